/**
 * State digests: a short hash of everything that decides what a run does next, so that the explorer
 * can tell when two schedules have led to the same machine state and explore its future once.
 *
 * **Kernel:** no counterpart (a model-checking aid, like a state vector in a model checker).
 *
 * A digest is built from a canonical, structural serialisation ({@link digestValue}) and hashed with
 * two independent 32-bit lanes ({@link hashText}). History counters (sequence numbers, ids handed
 * out in order) may make equal states look different; that only costs pruning, never soundness.
 * What a serialisation cannot see (closures, `WeakMap`s) is a layer's to contribute explicitly with
 * `kernel.addStateDigest()`.
 *
 * @module
 */

/** Something that {@link digestValue} prints by a short tag instead of walking into it. */
export interface DigestTag {
  /** A stable tag, e.g. `"T3"` for task 3. */
  digestTag(): string;
}

function isTagged(v: object): v is DigestTag {
  return typeof (v as { digestTag?: unknown }).digestTag === "function";
}

/** The walk's state: the objects already printed (cycles and shared objects print as `@n`). */
interface Walk {
  readonly seen: Map<object, number>;
  readonly out: string[];
}

function walkObject(v: object, w: Walk): void {
  if (isTagged(v)) {
    w.out.push(v.digestTag());
    return;
  }
  if (v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet) {
    w.out.push("~");
    return;
  }
  const ref = w.seen.get(v);
  if (ref !== undefined) {
    w.out.push(`@${ref}`);
    return;
  }
  w.seen.set(v, w.seen.size);
  if (ArrayBuffer.isView(v)) {
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    w.out.push(`b${bytes.length}:`, bytes.join(","));
    return;
  }
  if (Array.isArray(v)) {
    w.out.push("[");
    for (const x of v) {
      walk(x, w);
      w.out.push(",");
    }
    w.out.push("]");
    return;
  }
  if (v instanceof Map) {
    w.out.push("M{");
    for (const [k, x] of v) {
      walk(k, w);
      w.out.push(":");
      walk(x, w);
      w.out.push(",");
    }
    w.out.push("}");
    return;
  }
  if (v instanceof Set) {
    w.out.push("S{");
    for (const x of v) {
      walk(x, w);
      w.out.push(",");
    }
    w.out.push("}");
    return;
  }
  w.out.push(`${(v.constructor as { name?: string } | undefined)?.name ?? ""}{`);
  for (const k of Object.keys(v)) {
    w.out.push(k, ":");
    walk((v as Record<string, unknown>)[k], w);
    w.out.push(",");
  }
  w.out.push("}");
}

function walk(v: unknown, w: Walk): void {
  switch (typeof v) {
    case "object":
      if (v === null) {
        w.out.push("n");
      } else {
        walkObject(v, w);
      }
      return;
    case "string":
      w.out.push(JSON.stringify(v));
      return;
    case "number":
    case "bigint":
    case "boolean":
      w.out.push(String(v));
      return;
    case "undefined":
      w.out.push("u");
      return;
    case "symbol":
      w.out.push(String(v));
      return;
    case "function":
      w.out.push("f");
      return;
  }
}

/**
 * A canonical text of a value: primitives, arrays, maps, sets, typed arrays and plain or class
 * objects (own enumerable fields, in order), with cycles and shared objects as back-references.
 * Functions, promises and weak collections print as opaque markers; an object with a `digestTag()`
 * method (a `Task`, the `Kernel`) prints as its tag.
 *
 * **Kernel:** none. **Locking:** none (pure).
 */
export function digestValue(value: unknown): string {
  const w: Walk = { seen: new Map(), out: [] };
  walk(value, w);
  return w.out.join("");
}

/**
 * A 64-bit hash of a string as 16 hex digits (two independent 32-bit lanes: FNV-1a and a
 * multiply-rotate lane).
 *
 * **Kernel:** none. **Locking:** none (pure).
 */
export function hashText(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x9e3779b9 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  b = Math.imul(b ^ (b >>> 13), 0xc2b2ae35);
  b ^= b >>> 16;
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}
