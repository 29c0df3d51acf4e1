/**
 * The benchmark model, on the real hardware layer (@dmasim/hardware, platform `arm64-soc`), and the
 * same model in Promela for spin.
 *
 * The protocol, for N cache lines of one page and R rounds; in round r, for each line i:
 *
 * 1. a non-coherent device (`cam`) writes the value r into line i (`device_write`);
 * 2. (the correct protocol only) the CPU invalidates line i (`dcache_inval_poc`, what
 *    `dma_sync_single_for_cpu()` does on arm64);
 * 3. the CPU reads line i through the cacheable linear map (`cpu_read`): the checker reports a
 *    `stale-read` when it sees anything but r.
 *
 * Meanwhile the CPU's cache line may be prefetched, evicted or written back at any time. The choice
 * points are exactly those of @dmasim/hardware's `explore` cache policy (see its `speculation.ts`),
 * all of kind `"cache"`:
 *
 * - before the device write: evict line i if it is valid, or speculatively fill it if it is not
 *   (only one of the two can apply, so the point has 2 options);
 * - after the device write: write back line i if it is dirty (never here: the CPU only reads, so
 *   this point never offers a choice; it is in the Promela model for fidelity);
 * - after every step (`Machine.tick()`): write back every dirty line (never offered, as above), or
 *   refill the lines dropped since the last refill (offered whenever a line was dropped).
 *
 * The bug (no invalidate): a line the CPU holds, from a speculative fill during the DMA or from the
 * previous round's read, hides the device's data. With 2 rounds the run with no hardware event at
 * all already fails (round 2 reads the line round 1 left in the cache); with one round the bug needs
 * one speculative fill.
 *
 * Why the reader is the CPU: the sketch has "a coherent device read". In @dmasim/hardware a
 * coherent device snoops dirty lines only (a clean line equals memory as far as the interconnect
 * knows), so a stale *clean* line, the hazard the invalidate removes, is visible to the CPU alone.
 * The earlier kernel-level stand-in's "snoop read that sees the CPU's copy" was the CPU's read.
 *
 * Correspondence with the Promela model ({@link modelPromela}), line for line:
 *
 * | scenario (dmasim)                                   | Promela                                     |
 * |-----------------------------------------------------|---------------------------------------------|
 * | `device_write` line i: speculation point before    | `before_write(i)`                            |
 * | `device_write` line i: the bytes reach memory      | `mem[i] = r; ideal[i] = r` (the checker's ideal memory) |
 * | `device_write` line i: speculation point after     | `after_write(i)`                             |
 * | `dcache_inval_poc` line i                           | `inval(i)`                                   |
 * | `cpu_read` line i (stale-read check)                | `cpu_read(i)` with its `assert`              |
 * | the tick after every step (`Machine.tick()`)        | `tick()`                                     |
 * | a dropped line (the cache's ghost list)             | `ghost[i]`, `ghosts` (any ghost)             |
 * | bound `cache: C` (non-zero picks per run)           | `c < C` guards                               |
 *
 * The only difference is bookkeeping that does not change outcomes: the hardware keeps its dropped
 * lines as a list (with repeats, in order) and Promela as a set, so dmasim may tell apart states
 * that spin merges (fewer cuts, never a missed run).
 */

/** Bounds of both tools: at most `C` hardware cache events (non-zero `"cache"` picks) per run. */
export const CACHE_EVENTS = 2;

/** The scenario text: `n` lines, `rounds` rounds, with or without the invalidate. */
export function modelScenario(n: number, rounds: number, invalidate: boolean): string {
  const steps: string[] = [];
  for (let r = 1; r <= rounds; r++) {
    for (let i = 0; i < n; i++) {
      const off = i * 64;
      steps.push(
        `  - device_write: { device: cam, pages: buf, offset: ${off}, data: { fill: ${r}, len: 64 } }`,
      );
      if (invalidate) {
        steps.push(`  - dcache_inval_poc: { mapping: lin, offset: ${off}, len: 64 }`);
      }
      steps.push(`  - cpu_read: { mapping: lin, offset: ${off}, len: 64 }`);
    }
  }
  return [
    `name: lines-${n}x${rounds}${invalidate ? "-fixed" : ""}`,
    "kernel: latest",
    // one free-list end: allocation placement is no choice point (the Promela model has none)
    "platform: { preset: arm64-soc, cache_policy: explore, alloc_choices: 1 }",
    "devices:",
    "  - { name: cam, dma_mask: 32 }",
    "setup:",
    "  - alloc_pages: { gfp: GFP_KERNEL | GFP_DMA32 }",
    "    as: buf",
    "  - linear_map: buf",
    "    as: lin",
    "steps:",
    ...steps,
    "explore:",
    `  bounds: { cache: ${CACHE_EVENTS} }`,
    "expect:",
    "  findings: none",
    "",
  ].join("\n");
}

/** The same model in Promela, for spin (bound: at most `c` hardware cache events per run). */
export function modelPromela(n: number, rounds: number, invalidate: boolean, c: number): string {
  return `/* dmasim bench: ${n} line(s) x ${rounds} round(s), ${invalidate ? "with" : "without"} the invalidate */
#define N ${n}
#define ROUNDS ${rounds}
#define C ${c}
byte mem[N];     /* RAM */
byte ideal[N];   /* the checker's ideal memory */
bool valid[N];   /* the CPU's line (never dirty: the CPU only reads) */
byte cache[N];
bool dirty[N];
bool ghost[N];   /* dropped since the last refill (the cache's ghost list) */
bool ghosts;     /* any ghost */
byte c = 0;      /* hardware cache events so far */

inline drop(k) { valid[k] = false; ghost[k] = true; ghosts = true }
inline fill(k) { valid[k] = true; cache[k] = mem[k]; dirty[k] = false }

/* speculationPoint(before-write): evict the valid line, or fill the invalid one */
inline before_write(k) {
  if
  :: skip
  :: c < C && valid[k] -> c++; drop(k)
  :: c < C && !valid[k] -> c++; fill(k)
  fi
}

/* speculationPoint(after-write): write back the dirty line (clobbering the device's data) */
inline after_write(k) {
  if
  :: skip
  :: c < C && dirty[k] -> c++; mem[k] = cache[k]; dirty[k] = false; drop(k)
  fi
}

/* Machine.tick(): write back every dirty line (never offered: no line is ever dirty), or refill
   every dropped line */
inline tick() {
  if
  :: skip
  :: c < C && ghosts -> c++;
     for (j : 0 .. N - 1) { if :: ghost[j] && !valid[j] -> fill(j) :: else -> skip fi; ghost[j] = false };
     ghosts = false
  fi
}

inline inval(k) { if :: valid[k] -> drop(k) :: else -> skip fi }

inline cpu_read(k) {
  if :: !valid[k] -> fill(k) :: else -> skip fi;
  assert(cache[k] == ideal[k])
}

active proctype main() {
  byte r = 1; byte i; byte j;
  do
  :: r <= ROUNDS ->
     i = 0;
     do
     :: i < N ->
        before_write(i); mem[i] = r; ideal[i] = r; after_write(i); tick();
${invalidate ? "        inval(i); tick();\n" : ""}        cpu_read(i); tick();
        i++
     :: else -> break
     od;
     r++
  :: else -> break
  od
}
`;
}
