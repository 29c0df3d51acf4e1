/**
 * What dma-buf shows about itself: debugfs `dma_buf/bufinfo`, and the end-of-run leak check.
 *
 * **Kernel:** drivers/dma-buf/dma-buf.c (`dma_buf_debug_show`); the leak check has no kernel
 * counterpart (it is what a kernel engineer looks for in bufinfo after a test).
 *
 * @module
 */
import { refcountRead, type Finding, type Kernel } from "@dmasim/kernel";
import { dmaResvDescribe, dmaResvLockInterruptible, dmaResvUnlock } from "@dmasim/dma-resv";
import { dmaBufFmode } from "./dma-buf";
import type { DmaBuf } from "./include/dma-buf";
import { dmaBufState, era } from "./module";

function pad8(n: number): string {
  return String(n).padStart(8, "0");
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

/**
 * The text of `/sys/kernel/debug/dma_buf/bufinfo`: every live buffer, newest first, with its size,
 * file flags and mode, file count, exporter, inode and name, its fences (usages up to READ) and
 * its attached devices, then the totals.
 *
 * **Kernel:** `dma_buf_debug_show()`. Up to 5.10 an unnamed buffer shows an empty name instead of
 * `<none>`. Fences are always described with the usage-level format of 5.19+.
 *
 * **Locking:** may sleep: takes each buffer's reservation lock interruptibly (the caller must not
 * hold one).
 *
 * @throws {@link KernelError} `EINTR` when a signal interrupts a lock wait
 */
export async function dmaBufDebugfsBufinfo(kernel: Kernel): Promise<string> {
  let out = "\nDma-buf Objects:\n";
  out += `${"size".padEnd(8)}\t${"flags".padEnd(8)}\t${"mode".padEnd(8)}\t${"count".padEnd(8)}\texp_name\t${"ino".padEnd(8)}\tname\n`;
  let count = 0;
  let bytes = 0;
  for (const buf of [...dmaBufState(kernel).buffers]) {
    await dmaResvLockInterruptible(buf.resv, null);
    const file = buf.file;
    const name = buf.name ?? (era.bufinfoNone(kernel) ? "<none>" : "");
    out += `${pad8(buf.size)}\t${hex8(file?.flags ?? 0)}\t${hex8(file ? dmaBufFmode(file) : 0)}\t${pad8(file ? refcountRead(file.fCount) : 0)}\t${buf.expName}\t${pad8(buf.ino)}\t${name}\n`;
    out += dmaResvDescribe(buf.resv);
    out += "\tAttached Devices:\n";
    for (const a of buf.attachments) {
      out += `\t${a.dev.name}\n`;
    }
    dmaResvUnlock(buf.resv);
    out += `Total ${buf.attachments.length} devices attached\n\n`;
    count++;
    bytes += buf.size;
  }
  out += `\nTotal ${count} objects, ${bytes} bytes\n`;
  return out;
}

/**
 * Every buffer the kernel still knows (its file has references), newest first.
 *
 * **Kernel:** the global `dmabuf_list`.
 *
 * **Locking:** none (a snapshot).
 */
export function dmaBufList(kernel: Kernel): readonly DmaBuf[] {
  return [...dmaBufState(kernel).buffers];
}

/**
 * At the end of a run: one `leak` finding per buffer still referenced (code `dma-buf-leak`), per
 * attachment never detached (`dma-buf-attachment-leak`), per mapping never unmapped
 * (`dma-buf-mapping-leak`; a table cached by the core is released at detach and not counted), and
 * per buffer still vmapped (`dma-buf-vmap-leak`). Returns the new findings.
 *
 * **Kernel:** none (the scenario runner's end-of-run check).
 *
 * **Locking:** none.
 */
export function dmaBufCheckLeaks(kernel: Kernel): Finding[] {
  const found: Finding[] = [];
  for (const a of dmaBufState(kernel).orphans) {
    for (const m of a.mappings) {
      found.push(
        kernel.report({
          kind: "leak",
          code: "dma-buf-mapping-leak",
          summary: `${a.dev.name} detached from dma-buf ${a.dmabuf.ino} without unmapping its mapping (direction ${m.dir}, mapped at step ${m.step})`,
          details: {
            ino: a.dmabuf.ino,
            device: a.dev.name,
            dir: m.dir,
            step: m.step,
            detached: true,
            hint: `dma_buf_unmap_attachment the mapping (direction ${m.dir}, mapped at step ${m.step}) before dma_buf_detach`,
          },
        }),
      );
    }
  }
  for (const buf of dmaBufList(kernel)) {
    const refs = buf.file ? refcountRead(buf.file.fCount) : 0;
    found.push(
      kernel.report({
        kind: "leak",
        code: "dma-buf-leak",
        summary: `dma-buf ${buf.ino} (${buf.expName}, ${buf.size} bytes${buf.name ? `, "${buf.name}"` : ""}) still has ${refs} reference(s) at the end of the run`,
        details: {
          ino: buf.ino,
          expName: buf.expName,
          size: buf.size,
          refs,
          hint: `drop every reference to dma-buf ${buf.ino}: one dma_buf_put per dma_buf_get (and close its fds)`,
        },
      }),
    );
    for (const a of buf.attachments) {
      found.push(
        kernel.report({
          kind: "leak",
          code: "dma-buf-attachment-leak",
          summary: `${a.dev.name} is still attached to dma-buf ${buf.ino} (${buf.expName})`,
          details: {
            ino: buf.ino,
            device: a.dev.name,
            hint: `dma_buf_detach ${a.dev.name} from dma-buf ${buf.ino} when it is done with the buffer`,
          },
        }),
      );
      for (const m of a.mappings) {
        found.push(
          kernel.report({
            kind: "leak",
            code: "dma-buf-mapping-leak",
            summary: `${a.dev.name} never unmapped its mapping of dma-buf ${buf.ino} (direction ${m.dir}, mapped at step ${m.step})`,
            details: {
              ino: buf.ino,
              device: a.dev.name,
              dir: m.dir,
              step: m.step,
              hint: `dma_buf_unmap_attachment ${a.dev.name}'s mapping of dma-buf ${buf.ino} (direction ${m.dir}, mapped at step ${m.step})`,
            },
          }),
        );
      }
    }
    if (buf.vmappingCounter > 0) {
      found.push(
        kernel.report({
          kind: "leak",
          code: "dma-buf-vmap-leak",
          summary: `dma-buf ${buf.ino} (${buf.expName}) is still vmapped ${buf.vmappingCounter} time(s)`,
          details: {
            ino: buf.ino,
            vmaps: buf.vmappingCounter,
            hint: `one dma_buf_vunmap per dma_buf_vmap of dma-buf ${buf.ino}`,
          },
        }),
      );
    }
  }
  return found;
}
