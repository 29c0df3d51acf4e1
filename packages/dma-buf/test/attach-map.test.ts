/** §1.4–§1.7, §1.14, §1.15: attach, the dynamic-ness matrix per era, map/unmap, locking, pin, move. */
import { describe, expect, it } from "vitest";
import { digestValue, isKernelError, spinLockInit, type Kernel } from "@dmasim/kernel";
import {
  DMA_RESV_USAGE_KERNEL,
  dmaFenceContextAlloc,
  dmaFenceInit,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvAssertHeld,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  type DmaFence,
} from "@dmasim/dma-resv";
import {
  dmaBufAttach,
  dmaBufAttachRevocable,
  dmaBufAttachmentIsDynamic,
  dmaBufCheckLeaks,
  dmaBufDetach,
  dmaBufDynamicAttach,
  dmaBufInvalidateMappings,
  dmaBufIsDynamic,
  dmaBufMapAttachment,
  dmaBufMapAttachmentUnlocked,
  dmaBufMoveNotify,
  dmaBufPin,
  dmaBufUnmapAttachment,
  dmaBufUnmapAttachmentUnlocked,
  dmaBufUnpin,
  type DmaBuf,
  type DmaBufAttachOps,
  type DmaBufAttachment,
} from "../src/index";
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE } from "@dmasim/dma-mapping";
import { MockExporter, codes, setup } from "./helpers";

const IMPORTER: DmaBufAttachOps = { moveNotify: () => undefined };

async function locked<T>(b: DmaBuf, fn: () => Promise<T>): Promise<T> {
  await dmaResvLock(b.resv, null);
  try {
    return await fn();
  } finally {
    dmaResvUnlock(b.resv);
  }
}

async function expectErr(p: Promise<unknown>, code: string): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(isKernelError(err, code as never), `expected ${code}, got ${String(err)}`).toBe(true);
}

function kernelFence(k: Kernel): DmaFence {
  return dmaFenceInit(
    k,
    { getDriverName: () => "sdma", getTimelineName: () => "move" },
    spinLockInit(k, "sdma->lock"),
    dmaFenceContextAlloc(k, 1),
    1,
  );
}

describe("attach / detach", () => {
  it("attachments go to the head; ops.attach and ops.detach are called; detach removes", async () => {
    const { kernel, dev, dev2 } = setup();
    const ex = new MockExporter({
      attach: (_b, a) => void ex.calls.push(`attach ${a.dev.name}`),
      detach: (_b, a) => void ex.calls.push(`detach ${a.dev.name}`),
    });
    const b = ex.export(kernel);
    const a = await dmaBufAttach(b, dev);
    const c = await dmaBufAttach(b, dev2);
    expect(b.attachments).toEqual([c, a]);
    expect(dmaBufAttachmentIsDynamic(a)).toBe(false);
    await dmaBufDetach(b, a);
    expect(b.attachments).toEqual([c]);
    expect(ex.calls).toEqual(["attach dev0", "attach dev1", "detach dev0"]);
    expect(kernel.findings).toEqual([]);
  });

  it("WARN + EINVAL for a null device; the exporter's attach error is returned, nothing attached", async () => {
    const { kernel, dev } = setup();
    const ex = new MockExporter({
      attach: () => {
        throw Object.assign(new Error("EOPNOTSUPP: no p2p"), { code: "EOPNOTSUPP" });
      },
    });
    const b = ex.export(kernel);
    await expectErr(dmaBufAttach(b, null), "EINVAL");
    expect(codes(kernel)).toEqual(["warn/drivers/dma-buf/dma-buf.c:dma_buf_dynamic_attach"]);
    await expect(dmaBufAttach(b, dev)).rejects.toThrow("no p2p");
    expect(b.attachments).toEqual([]);
  });

  it("importer ops need move_notify (5.6-6.15: WARN + EINVAL); optional on latest", async () => {
    for (const v of ["5.10", "6.12", "6.15"]) {
      const { kernel, dev } = setup(v);
      const b = new MockExporter().export(kernel);
      await expectErr(dmaBufDynamicAttach(b, dev, {}), "EINVAL");
      expect(kernel.findings.map((f) => f.kind)).toEqual(["warn"]);
    }
    const { kernel, dev } = setup("latest");
    const b = new MockExporter().export(kernel);
    const a = await dmaBufDynamicAttach(b, dev, {});
    expect(dmaBufAttachmentIsDynamic(a)).toBe(true);
    expect(dmaBufAttachRevocable(a)).toBe(false);
    const r = await dmaBufDynamicAttach(b, dev, { invalidateMappings: () => undefined });
    expect(dmaBufAttachRevocable(r)).toBe(true);
  });

  it("dynamic attach does not exist before 5.6 (ENOSYS); the exporter is never dynamic there", async () => {
    const { kernel, dev } = setup("5.4");
    const ex = new MockExporter();
    const b = ex.export(kernel, { ...ex.ops, pin: () => undefined, unpin: () => undefined });
    expect(dmaBufIsDynamic(b)).toBe(false);
    await expectErr(dmaBufDynamicAttach(b, dev, IMPORTER), "ENOSYS");
    await expectErr(dmaBufPin(await dmaBufAttach(b, dev)), "ENOSYS");
  });

  it("peer2peer follows allow_peer2peer from 5.8", async () => {
    const { kernel, dev } = setup("6.12");
    const b = new MockExporter().export(kernel);
    const a = await dmaBufDynamicAttach(b, dev, { ...IMPORTER, allowPeer2peer: true });
    expect(a.peer2peer).toBe(true);
    expect((await dmaBufAttach(b, dev)).peer2peer).toBe(false);
  });

  it("detach WARNs for an attachment of another buffer or one already detached", async () => {
    const { kernel, dev } = setup();
    const ex = new MockExporter();
    const b = ex.export(kernel);
    const c = ex.export(kernel);
    const a = await dmaBufAttach(b, dev);
    await dmaBufDetach(c, a);
    await dmaBufDetach(b, a);
    await dmaBufDetach(b, a);
    expect(codes(kernel)).toEqual([
      "warn/drivers/dma-buf/dma-buf.c:dma_buf_detach",
      "warn/drivers/dma-buf/dma-buf.c:dma_buf_detach",
    ]);
  });

  it("a map on a detached attachment is a use-after-free", async () => {
    const { kernel, dev } = setup();
    const b = new MockExporter().export(kernel);
    const a = await dmaBufAttach(b, dev);
    await dmaBufDetach(b, a);
    await expectErr(
      locked(b, () => dmaBufMapAttachment(a, DMA_TO_DEVICE)),
      "EINVAL",
    );
    expect(codes(kernel)).toEqual(["use-after-free/dma-buf-attachment-freed"]);
  });
});

describe("the dynamic-ness matrix and the caching history", () => {
  it("static exporter, static importer: every map and unmap reaches the exporter", async () => {
    for (const v of ["4.19", "5.10", "6.12", "6.15", "latest"]) {
      const { kernel, dev } = setup(v);
      const ex = new MockExporter();
      const b = ex.export(kernel);
      const a = await dmaBufAttach(b, dev);
      const lock = v === "6.12" || v === "6.15" || v === "latest";
      const map = () => dmaBufMapAttachment(a, DMA_TO_DEVICE);
      const s1 = lock ? await locked(b, map) : await map();
      const s2 = lock ? await locked(b, map) : await map();
      expect(s1 === s2).toBe(false);
      const unmap = () => dmaBufUnmapAttachment(a, s1, DMA_TO_DEVICE);
      await (lock ? locked(b, unmap) : unmap());
      expect(ex.calls, v).toEqual(["map dev0 1", "map dev0 1", "unmap dev0 1"]);
      expect(kernel.findings, v).toEqual([]);
    }
  });

  it("cache_sgt_mapping (5.2-6.14): the first map is cached; another direction is EBUSY; unmap calls nothing; detach releases it", async () => {
    for (const v of ["5.4", "6.12"]) {
      const { kernel, dev } = setup(v);
      const ex = new MockExporter();
      const b = ex.export(kernel, { ...ex.ops, cacheSgtMapping: true });
      const a = await dmaBufAttach(b, dev);
      const lk = <T>(f: () => Promise<T>) => (v === "6.12" ? locked(b, f) : f());
      const s1 = await lk(() => dmaBufMapAttachment(a, DMA_TO_DEVICE));
      const s2 = await lk(() => dmaBufMapAttachment(a, DMA_TO_DEVICE));
      expect(s2).toBe(s1);
      await expectErr(
        lk(() => dmaBufMapAttachment(a, DMA_FROM_DEVICE)),
        "EBUSY",
      );
      await lk(() => dmaBufUnmapAttachment(a, s1, DMA_TO_DEVICE));
      expect(ex.calls, v).toEqual(["map dev0 1"]);
      expect(a.sgt).toBe(s1);
      await dmaBufDetach(b, a);
      expect(ex.calls, v).toEqual(["map dev0 1", "unmap dev0 1"]);
      expect(dmaBufCheckLeaks(kernel).map((f) => f.code)).toEqual(["dma-buf-leak"]);
    }
  });

  it("cache_sgt_mapping is ignored before 5.2 and from 6.16 (b72f66f22c0e)", async () => {
    for (const v of ["4.19", "6.16"]) {
      const { kernel, dev } = setup(v);
      const ex = new MockExporter();
      const b = ex.export(kernel, { ...ex.ops, cacheSgtMapping: true });
      const a = await dmaBufAttach(b, dev);
      const lk = <T>(f: () => Promise<T>) => (v === "6.16" ? locked(b, f) : f());
      const s1 = await lk(() => dmaBufMapAttachment(a, DMA_TO_DEVICE));
      const s2 = await lk(() => dmaBufMapAttachment(a, DMA_FROM_DEVICE));
      expect(s2 === s1).toBe(false);
      expect(a.sgt).toBe(null);
      expect(ex.calls).toEqual(["map dev0 1", "map dev0 2"]);
    }
  });

  it("dynamic importer, static exporter: mapped BIDIRECTIONAL at attach and cached (5.6-6.15); any direction then maps to it", async () => {
    const { kernel, dev } = setup("6.12");
    const ex = new MockExporter();
    const b = ex.export(kernel);
    const a = await dmaBufDynamicAttach(b, dev, IMPORTER);
    expect(ex.calls).toEqual(["map dev0 0"]);
    expect(a.dir).toBe(DMA_BIDIRECTIONAL);
    const s = await locked(b, () => dmaBufMapAttachment(a, DMA_FROM_DEVICE));
    expect(s).toBe(a.sgt);
    await locked(b, () => dmaBufUnmapAttachment(a, s, DMA_FROM_DEVICE));
    expect(ex.calls).toEqual(["map dev0 0"]);
    await dmaBufDetach(b, a);
    expect(ex.calls).toEqual(["map dev0 0", "unmap dev0 0"]);
  });

  it("static importer, dynamic exporter: pinned and mapped at attach (5.6-6.15), unpinned at detach", async () => {
    for (const v of ["5.10", "6.12"]) {
      const { kernel, dev } = setup(v);
      const ex = new MockExporter();
      const b = ex.export(kernel, ex.dynamic());
      const a = await dmaBufAttach(b, dev);
      expect(ex.calls).toEqual(["pin dev0", "map dev0 0"]);
      const s = await (v === "6.12"
        ? locked(b, () => dmaBufMapAttachment(a, DMA_TO_DEVICE))
        : dmaBufMapAttachment(a, DMA_TO_DEVICE));
      expect(s).toBe(a.sgt);
      await dmaBufDetach(b, a);
      expect(ex.calls).toEqual(["pin dev0", "map dev0 0", "unmap dev0 0", "unpin dev0"]);
      expect(kernel.findings, v).toEqual([]);
    }
  });

  it("nothing is mapped at attach from 6.16 (de68b17d5d07); a static importer pins a dynamic exporter at each map", async () => {
    const { kernel, dev, dev2 } = setup("6.16");
    const ex = new MockExporter();
    const b = ex.export(kernel, ex.dynamic());
    const a = await dmaBufAttach(b, dev);
    await dmaBufDynamicAttach(b, dev2, IMPORTER);
    expect(ex.calls).toEqual([]);
    const s = await locked(b, () => dmaBufMapAttachment(a, DMA_TO_DEVICE));
    await locked(b, () => dmaBufUnmapAttachment(a, s, DMA_TO_DEVICE));
    expect(ex.calls).toEqual(["pin dev0", "map dev0 1", "unmap dev0 1", "unpin dev0"]);
  });

  it("dynamic both sides: pinned per map while CONFIG_DMABUF_MOVE_NOTIFY is off (≤6.15), never on latest", async () => {
    for (const [v, opt, pinned] of [
      ["6.12", false, true],
      ["6.12", true, false],
      ["6.15", false, true],
      ["6.15", true, false],
      ["latest", false, false],
    ] as const) {
      const { kernel, dev } = setup(v, { CONFIG_DMABUF_MOVE_NOTIFY: opt });
      const ex = new MockExporter();
      const b = ex.export(kernel, ex.dynamic());
      const a = await dmaBufDynamicAttach(b, dev, IMPORTER);
      expect(a.sgt).toBe(null);
      const s = await locked(b, () => dmaBufMapAttachment(a, DMA_TO_DEVICE));
      await locked(b, () => dmaBufUnmapAttachment(a, s, DMA_TO_DEVICE));
      const want = pinned
        ? ["pin dev0", "map dev0 1", "unmap dev0 1", "unpin dev0"]
        : ["map dev0 1", "unmap dev0 1"];
      expect(ex.calls, `${v} ${String(opt)}`).toEqual(want);
      expect(kernel.findings).toEqual([]);
    }
  });

  it("a failure while mapping at attach detaches again: pin error, NULL table (ENOMEM)", async () => {
    const { kernel, dev } = setup("6.12");
    const ex = new MockExporter();
    const b = ex.export(kernel, {
      ...ex.dynamic(),
      pin: () => {
        throw Object.assign(new Error("ENOMEM: no VRAM"), { code: "ENOMEM" });
      },
    });
    await expect(dmaBufAttach(b, dev)).rejects.toThrow("no VRAM");
    expect(b.attachments).toEqual([]);
    const c = ex.export(kernel, { ...ex.ops, mapDmaBuf: () => null });
    await expectErr(dmaBufDynamicAttach(c, dev, IMPORTER), "ENOMEM");
    expect(c.attachments).toEqual([]);
    const d = ex.export(kernel, {
      ...ex.dynamic(),
      mapDmaBuf: () => null,
    });
    await expectErr(dmaBufAttach(d, dev), "ENOMEM");
    expect(ex.calls).toEqual(["pin dev0", "unpin dev0"]);
    expect(kernel.findings).toEqual([]);
  });

  it("map: a NULL table is ENOMEM and undoes the core's pin", async () => {
    const { kernel, dev } = setup("6.16");
    const ex = new MockExporter();
    const b = ex.export(kernel, { ...ex.dynamic(), mapDmaBuf: () => null });
    const a = await dmaBufAttach(b, dev);
    await expectErr(
      locked(b, () => dmaBufMapAttachment(a, DMA_TO_DEVICE)),
      "ENOMEM",
    );
    expect(ex.calls).toEqual(["pin dev0", "unpin dev0"]);
  });

  it("6.16+: a pin failing with EBUSY WARNs once and is returned", async () => {
    const { kernel, dev } = setup("6.16");
    const ex = new MockExporter();
    const b = ex.export(kernel, {
      ...ex.dynamic(),
      pin: () => {
        throw Object.assign(new Error("EBUSY"), { code: "EBUSY", errno: 16 });
      },
    });
    const a = await dmaBufAttach(b, dev);
    const { KernelError } = await import("@dmasim/kernel");
    b.ops.pin = () => {
      throw new KernelError("EBUSY", "pinned elsewhere");
    };
    await expectErr(
      locked(b, () => dmaBufMapAttachment(a, DMA_TO_DEVICE)),
      "EBUSY",
    );
    await expectErr(
      locked(b, () => dmaBufMapAttachment(a, DMA_TO_DEVICE)),
      "EBUSY",
    );
    expect(codes(kernel)).toEqual(["warn/drivers/dma-buf/dma-buf.c:dma_buf_map_attachment"]);
  });

  it("unmap WARNs for a NULL table", async () => {
    const { kernel, dev } = setup();
    const b = new MockExporter().export(kernel);
    const a = await dmaBufAttach(b, dev);
    await locked(b, () => dmaBufUnmapAttachment(a, null, DMA_TO_DEVICE));
    expect(codes(kernel)).toEqual(["warn/drivers/dma-buf/dma-buf.c:dma_buf_unmap_attachment"]);
  });

  it("a mapping not unmapped before detach leaks (the core does not check)", async () => {
    const { kernel, dev } = setup();
    const b = new MockExporter().export(kernel);
    const a = await dmaBufAttach(b, dev);
    await locked(b, () => dmaBufMapAttachment(a, DMA_TO_DEVICE));
    await dmaBufDetach(b, a);
    expect(kernel.findings).toEqual([]);
    expect(dmaBufCheckLeaks(kernel).map((f) => f.code)).toEqual([
      "dma-buf-mapping-leak",
      "dma-buf-leak",
    ]);
  });
});

describe("the locking convention per era", () => {
  it("6.2+: map and unmap without the reservation lock are lockdep findings (H13's missing lock)", async () => {
    const { kernel, dev } = setup("6.12");
    const b = new MockExporter().export(kernel);
    const a = await dmaBufAttach(b, dev);
    const s = await dmaBufMapAttachment(a, DMA_TO_DEVICE);
    await dmaBufUnmapAttachment(a, s, DMA_TO_DEVICE);
    expect(codes(kernel)).toEqual(["lockdep/assert-held", "lockdep/assert-held"]);
    expect(kernel.findings[0]?.summary).toMatch(
      /lockdep_assert_held\(&dmabuf->resv \(dma_resv\)\) failed/,
    );
  });

  it("≤6.1: a static importer of a static exporter maps unlocked; a dynamic importer must hold resv", async () => {
    const { kernel, dev } = setup("6.1");
    const ex = new MockExporter();
    const b = ex.export(kernel, ex.dynamic());
    const c = ex.export(kernel);
    const s = await dmaBufMapAttachment(await dmaBufAttach(c, dev), DMA_TO_DEVICE);
    expect(s).toBeDefined();
    expect(kernel.findings).toEqual([]);
    const a = await dmaBufDynamicAttach(b, dev, IMPORTER);
    await dmaBufMapAttachment(a, DMA_TO_DEVICE);
    expect(codes(kernel)).toEqual(["lockdep/assert-held", "lockdep/assert-held"]);
  });

  it("the _unlocked variants take the lock (6.2+), and do not exist before", async () => {
    const { kernel, dev } = setup("6.6");
    const ex = new MockExporter();
    const b = ex.export(kernel);
    const a = await dmaBufAttach(b, dev);
    const s = await dmaBufMapAttachmentUnlocked(a, DMA_TO_DEVICE);
    await dmaBufUnmapAttachmentUnlocked(a, s, DMA_TO_DEVICE);
    await dmaBufUnmapAttachmentUnlocked(a, null, DMA_TO_DEVICE);
    expect(codes(kernel)).toEqual([
      "warn/drivers/dma-buf/dma-buf.c:dma_buf_unmap_attachment_unlocked",
    ]);
    const old = setup("6.1");
    const ob = ex.export(old.kernel);
    const oa = await dmaBufAttach(ob, old.dev);
    await expectErr(dmaBufMapAttachmentUnlocked(oa, DMA_TO_DEVICE), "ENOSYS");
    await expectErr(dmaBufUnmapAttachmentUnlocked(oa, s, DMA_TO_DEVICE), "ENOSYS");
  });

  it("H12 (a): an exporter whose map_dma_buf locks resv self-deadlocks under the core; the fix asserts", async () => {
    const { kernel, dev } = setup("6.12");
    const ex = new MockExporter();
    const buggy = ex.export(kernel, {
      ...ex.ops,
      mapDmaBuf: async (a, dir) => {
        await dmaResvLock(a.dmabuf.resv, null); // wrong: the importer already holds it
        dmaResvUnlock(a.dmabuf.resv);
        return ex.ops.mapDmaBuf(a, dir);
      },
    });
    const a = await dmaBufAttach(buggy, dev);
    const hung = kernel.run({
      importer: async () => void (await dmaBufMapAttachmentUnlocked(a, DMA_TO_DEVICE)),
    });
    // The kernel hangs here, and lockdep names the recursion first.
    await expect(hung).rejects.toThrow(/deadlock/);
    expect(codes(kernel)).toEqual(["lockdep/recursive-locking", "deadlock/all-blocked"]);
    expect(kernel.findings[0]?.summary).toBe("possible recursive locking detected");

    const ok = setup("6.12");
    const fixed = ex.export(ok.kernel, {
      ...ex.ops,
      mapDmaBuf: (a, dir) => {
        dmaResvAssertHeld(a.dmabuf.resv);
        return ex.ops.mapDmaBuf(a, dir);
      },
    });
    const fa = await dmaBufAttach(fixed, ok.dev);
    await ok.kernel.run({
      importer: async () => void (await dmaBufMapAttachmentUnlocked(fa, DMA_TO_DEVICE)),
    });
    expect(ok.kernel.findings).toEqual([]);
  });

  it("H12 (b): attach with resv already held is recursive locking", async () => {
    const { kernel, dev } = setup("6.12");
    const b = new MockExporter().export(kernel);
    await kernel
      .run({
        importer: async () => {
          await dmaResvLock(b.resv, null);
          await dmaBufAttach(b, dev).catch(() => undefined);
        },
      })
      .catch(() => undefined);
    expect(codes(kernel)).toEqual(["lockdep/recursive-locking", "deadlock/all-blocked"]);
    expect(kernel.findings[0]?.summary).toBe("possible recursive locking detected");
  });
});

describe("KERNEL fences at map", () => {
  it("a static importer waits for the KERNEL fences (5.19+); a dynamic importer does not (H14)", async () => {
    const { kernel, dev, dev2 } = setup("6.12");
    const ex = new MockExporter();
    const b = ex.export(kernel, ex.dynamic());
    const dyn = await dmaBufDynamicAttach(b, dev2, IMPORTER);
    const f = kernelFence(kernel);
    await dmaResvLock(b.resv, null);
    dmaResvReserveFences(b.resv, 1);
    dmaResvAddFence(b.resv, f, DMA_RESV_USAGE_KERNEL);
    dmaResvUnlock(b.resv);
    const order: string[] = [];
    await kernel.run({
      static: async () => {
        const { msleep } = await import("@dmasim/kernel");
        await msleep(kernel, 1);
        await dmaBufAttach(b, dev); // maps at attach: waits for the move
        order.push("static mapped");
      },
      dynamic: async () => {
        await locked(b, () => dmaBufMapAttachment(dyn, DMA_TO_DEVICE));
        order.push("dynamic mapped");
      },
      mover: async () => {
        const { msleep } = await import("@dmasim/kernel");
        await msleep(kernel, 5);
        order.push("move done");
        dmaFenceSignal(f);
      },
    });
    expect(order).toEqual(["dynamic mapped", "move done", "static mapped"]);
  });

  it("a signal during the wait is ERESTARTSYS and unmaps again", async () => {
    const { kernel, dev } = setup("6.15");
    const ex = new MockExporter();
    const b = ex.export(kernel);
    const a = await dmaBufAttach(b, dev);
    const f = kernelFence(kernel);
    await dmaResvLock(b.resv, null);
    dmaResvReserveFences(b.resv, 1);
    dmaResvAddFence(b.resv, f, DMA_RESV_USAGE_KERNEL);
    dmaResvUnlock(b.resv);
    let err: unknown;
    const t = kernel.spawn("importer", async () => {
      try {
        await locked(b, () => dmaBufMapAttachment(a, DMA_TO_DEVICE));
      } catch (e) {
        err = e;
      }
    });
    kernel.spawn("killer", async () => {
      await kernel.sched.schedulePoint();
      kernel.sched.signal(t);
    });
    await kernel.sched.join();
    expect(isKernelError(err, "ERESTARTSYS")).toBe(true);
    expect(ex.calls).toEqual(["map dev0 1", "unmap dev0 1"]);
    dmaFenceSignal(f);
  });

  it("no wait before 5.19 (exporters had to finish moves themselves)", async () => {
    const { kernel, dev } = setup("5.15");
    const b = new MockExporter().export(kernel);
    const a = await dmaBufAttach(b, dev);
    const f = kernelFence(kernel);
    await dmaResvLock(b.resv, null);
    dmaResvReserveFences(b.resv, 1);
    dmaResvAddFence(b.resv, f, DMA_RESV_USAGE_KERNEL);
    dmaResvUnlock(b.resv);
    await kernel.run({ importer: async () => void (await dmaBufMapAttachment(a, DMA_TO_DEVICE)) });
    dmaFenceSignal(f);
  });
});

describe("pin, unpin, move_notify, invalidate_mappings", () => {
  it("pin/unpin call the exporter with resv held; WARN for a static attachment; assert otherwise", async () => {
    const { kernel, dev } = setup("latest");
    const ex = new MockExporter();
    const b = ex.export(kernel, ex.dynamic());
    const a = await dmaBufDynamicAttach(b, dev, IMPORTER);
    await locked(b, () => dmaBufPin(a));
    await locked(b, () => dmaBufUnpin(a));
    expect(ex.calls).toEqual(["pin dev0", "unpin dev0"]);
    expect(kernel.findings).toEqual([]);
    const s = await dmaBufAttach(b, dev);
    await locked(b, () => dmaBufPin(s));
    await dmaBufUnpin(a);
    expect(codes(kernel)).toEqual([
      "warn/drivers/dma-buf/dma-buf.c:dma_buf_pin",
      "lockdep/assert-held",
    ]);
    const c = ex.export(kernel);
    const ca = await dmaBufDynamicAttach(c, dev, IMPORTER);
    await locked(c, () => dmaBufPin(ca)); // no pin op: nothing, 0
  });

  it("move_notify reaches the dynamic importers only, with the lock asserted", async () => {
    const { kernel, dev, dev2 } = setup("6.12");
    const seen: string[] = [];
    const ex = new MockExporter();
    const b = ex.export(kernel, ex.dynamic());
    await dmaBufDynamicAttach(b, dev, {
      moveNotify: (a: DmaBufAttachment) => void seen.push(a.dev.name),
    });
    await dmaBufAttach(b, dev2);
    await locked(b, async () => dmaBufMoveNotify(b));
    expect(seen).toEqual(["dev0"]);
    dmaBufMoveNotify(b);
    expect(codes(kernel)).toEqual(["lockdep/assert-held"]);
    expect(() => dmaBufInvalidateMappings(b)).toThrow(/ENOSYS/);
  });

  it("latest: invalidate_mappings skips attachments without the callback; move_notify is gone", async () => {
    const { kernel, dev, dev2 } = setup("latest");
    const seen: string[] = [];
    const ex = new MockExporter();
    const b = ex.export(kernel, ex.dynamic());
    await dmaBufDynamicAttach(b, dev, {
      invalidateMappings: (a) => void seen.push(`inv ${a.dev.name}`),
    });
    await dmaBufDynamicAttach(b, dev2, {});
    await dmaBufDynamicAttach(b, dev, { moveNotify: (a) => void seen.push(`move ${a.dev.name}`) });
    await locked(b, async () => dmaBufInvalidateMappings(b));
    expect(seen).toEqual(["move dev0", "inv dev0"]);
    expect(() => dmaBufMoveNotify(b)).toThrow(/ENOSYS/);
  });
});

describe("CONFIG_DMABUF_DEBUG", () => {
  it("≤6.15: an importer reading sg pages is a finding; the exporter gets its pages back at unmap", async () => {
    const { kernel, dev } = setup("6.12");
    let exporterSaw: unknown = "unset";
    const ex = new MockExporter({
      unmapDmaBuf: (_a, sgt) => {
        exporterSaw = sgt.sgl[0]?.page;
      },
    });
    const b = ex.export(kernel);
    const a = await dmaBufAttach(b, dev);
    const s = await locked(b, () => dmaBufMapAttachment(a, DMA_TO_DEVICE));
    expect(s.sgl[0]?.dmaAddress).toBe(0x10000);
    expect(kernel.findings).toEqual([]);
    const page = s.sgl[0]?.page;
    void s.sgl[0]?.page;
    expect(page).toEqual({ tag: 1 });
    expect(codes(kernel)).toEqual(["dma-api/dmabuf-sg-page-access"]);
    await locked(b, () => dmaBufUnmapAttachment(a, s, DMA_TO_DEVICE));
    expect(exporterSaw).toEqual({ tag: 1 });
    expect(kernel.findings.length).toBe(1);
  });

  it("latest: the importer gets a DMA-only copy (no page)", async () => {
    const { kernel, dev } = setup("latest");
    let exporterGot: unknown;
    const ex = new MockExporter({
      unmapDmaBuf: (_a, sgt) => {
        exporterGot = sgt;
      },
    });
    const b = ex.export(kernel);
    const a = await dmaBufAttach(b, dev);
    const s = await locked(b, () => dmaBufMapAttachment(a, DMA_TO_DEVICE));
    expect(s.sgl[0]?.length).toBe(0);
    expect(s.sgl[0]?.dmaLength).toBe(4096);
    expect(s.sgl[0]?.page).toBe(null);
    expect(codes(kernel)).toEqual(["dma-api/dmabuf-sg-page-access"]);
    await locked(b, () => dmaBufUnmapAttachment(a, s, DMA_TO_DEVICE));
    expect(exporterGot).not.toBe(s);
    expect((exporterGot as typeof s).sgl[0]?.page).toEqual({ tag: 1 });
  });

  it("the explorer's state digest walks a hidden table without tripping the trap (6.12 and latest)", async () => {
    for (const v of ["6.12", "latest"]) {
      const { kernel, dev } = setup(v);
      const b = new MockExporter({}).export(kernel);
      const a = await dmaBufAttach(b, dev);
      const s = await locked(b, () => dmaBufMapAttachment(a, DMA_TO_DEVICE));
      kernel.stateDigest();
      expect(digestValue(s)).not.toContain("tag");
      expect(codes(kernel), v).toEqual([]);
      void s.sgl[0]?.page;
      expect(codes(kernel), v).toEqual(["dma-api/dmabuf-sg-page-access"]);
    }
  });

  it("off, or before 5.12: nothing is hidden", async () => {
    for (const [v, opts] of [
      ["6.12", { CONFIG_DMABUF_DEBUG: false }],
      ["5.10", {}],
    ] as const) {
      const { kernel, dev } = setup(v, opts);
      const b = new MockExporter().export(kernel);
      const a = await dmaBufAttach(b, dev);
      const s = await locked(b, () => dmaBufMapAttachment(a, DMA_TO_DEVICE));
      expect(s.sgl[0]?.page).toEqual({ tag: 1 });
      expect(kernel.findings).toEqual([]);
    }
  });
});

describe("attach/detach locking of the mapping made at attach (809d9c72c2f8, v6.2)", () => {
  /** A static exporter that takes the buffer's reservation lock itself in map and unmap. */
  function selfLocking(ex: MockExporter) {
    const ops = ex.ops;
    return {
      ...ops,
      mapDmaBuf: async (a: DmaBufAttachment, dir: number) => {
        await dmaResvLock(a.dmabuf.resv, null);
        try {
          return await ops.mapDmaBuf(a, dir as never);
        } finally {
          dmaResvUnlock(a.dmabuf.resv);
        }
      },
      unmapDmaBuf: async (
        a: DmaBufAttachment,
        s: Parameters<typeof ops.unmapDmaBuf>[1],
        dir: number,
      ) => {
        await dmaResvLock(a.dmabuf.resv, null);
        try {
          await ops.unmapDmaBuf(a, s, dir as never);
        } finally {
          dmaResvUnlock(a.dmabuf.resv);
        }
      },
    };
  }

  it.each(["5.10", "5.15", "6.1"])(
    "%s: a static exporter is mapped at attach and unmapped at detach without the lock: its own dma_resv_lock works",
    async (v) => {
      const { kernel, dev } = setup(v);
      const ex = new MockExporter();
      const b = ex.export(kernel, selfLocking(ex));
      const a = await dmaBufDynamicAttach(b, dev, IMPORTER);
      expect(a.sgt).not.toBe(null);
      await dmaBufDetach(b, a);
      expect(ex.calls).toEqual(["map dev0 0", "unmap dev0 0"]);
      expect(kernel.findings, v).toEqual([]);
    },
  );

  it.each(["6.6", "6.12", "6.15"])(
    "%s: the core holds the lock around the map at attach: the same exporter deadlocks on itself (H12)",
    async (v) => {
      const { kernel, dev } = setup(v);
      const ex = new MockExporter();
      const b = ex.export(kernel, selfLocking(ex));
      await dmaBufDynamicAttach(b, dev, IMPORTER).catch(() => undefined);
      const kinds = kernel.findings.map((f) => f.kind);
      expect(
        kinds.some((k) => k === "lockdep" || k === "deadlock"),
        v,
      ).toBe(true);
    },
  );

  it("6.1: a dynamic exporter's pin and map at attach run under the lock (asserted), as on 6.2+", async () => {
    for (const v of ["6.1", "6.6"]) {
      const { kernel, dev } = setup(v);
      const ex = new MockExporter();
      const ops = ex.dynamic();
      const b = ex.export(kernel, {
        ...ops,
        pin: (a: DmaBufAttachment) => {
          dmaResvAssertHeld(a.dmabuf.resv);
          return ops.pin!(a);
        },
      });
      const a = await dmaBufAttach(b, dev);
      await dmaBufDetach(b, a);
      expect(ex.calls, v).toEqual(["pin dev0", "map dev0 0", "unmap dev0 0", "unpin dev0"]);
      expect(kernel.findings, v).toEqual([]);
    }
  });
});
