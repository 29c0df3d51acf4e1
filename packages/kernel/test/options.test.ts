import { describe, expect, it } from "vitest";
import {
  CORE_MODULE,
  Kernel,
  KernelOptions,
  KernelVersion,
  defineOption,
  isKernelError,
  type KernelModule,
} from "../src/index";

const MOD: KernelModule = {
  name: "@dmasim/test",
  options: [
    defineOption({
      name: "CONFIG_TEST_THING",
      kind: "config",
      owner: "@dmasim/test",
      default: false,
      description: "a test option",
    }),
    defineOption({
      name: "fix-the-thing",
      kind: "patch",
      owner: "@dmasim/test",
      default: (v) => v.since("6.15"),
      description: "a patch that landed in 6.15",
    }),
  ],
};

function errOf(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("kernel options", () => {
  it("defineOption validates names", () => {
    expect(
      isKernelError(
        errOf(() =>
          defineOption({
            name: "DMA_DEBUG",
            kind: "config",
            owner: "x",
            default: true,
            description: "",
          }),
        ),
        "EINVAL",
      ),
    ).toBe(true);
    expect(
      isKernelError(
        errOf(() =>
          defineOption({
            name: "Fix_It",
            kind: "patch",
            owner: "x",
            default: true,
            description: "",
          }),
        ),
        "EINVAL",
      ),
    ).toBe(true);
  });

  it("the core defines its CONFIG symbols, on by default", () => {
    const k = new Kernel();
    for (const o of CORE_MODULE.options ?? []) {
      expect(k.options.has(o.name)).toBe(true);
      expect(k.options.enabled(o.name)).toBe(true);
    }
  });

  it("values come from the config, else from a version-dependent default", () => {
    expect(new Kernel({ version: "6.12", modules: [MOD] }).options.enabled("fix-the-thing")).toBe(
      false,
    );
    expect(new Kernel({ version: "6.15", modules: [MOD] }).options.enabled("fix-the-thing")).toBe(
      true,
    );
    const k = new Kernel({
      version: "6.12",
      modules: [MOD],
      options: { "fix-the-thing": true, CONFIG_TEST_THING: true, CONFIG_PROVE_LOCKING: false },
    });
    expect(k.options.enabled("fix-the-thing")).toBe(true);
    expect(k.options.enabled("CONFIG_TEST_THING")).toBe(true);
    expect(k.options.enabled("CONFIG_PROVE_LOCKING")).toBe(false);
  });

  it("an unknown option is an error at creation and when queried", () => {
    const e = errOf(() => new Kernel({ options: { CONFIG_NOPE: true } }));
    expect(isKernelError(e, "EINVAL")).toBe(true);
    expect(String((e as Error).message)).toMatch(/CONFIG_NOPE/);
    const k = new Kernel();
    expect(
      isKernelError(
        errOf(() => k.options.enabled("CONFIG_TEST_THING")),
        "EINVAL",
      ),
    ).toBe(true);
  });

  it("a module loaded later registers its options with their defaults", () => {
    const k = new Kernel({ version: "latest" });
    expect(k.options.has("fix-the-thing")).toBe(false);
    k.load(MOD);
    k.load(MOD); // idempotent
    expect(k.options.enabled("fix-the-thing")).toBe(true);
    expect(k.options.list().map((o) => o.def.name)).toEqual(
      [...k.options.list().map((o) => o.def.name)].sort((a, b) => a.localeCompare(b)),
    );
  });

  it("two owners defining one option is EEXIST; the same owner again is fine", () => {
    const opts = new KernelOptions(new KernelVersion("latest"), {});
    opts.define(MOD.options ?? []);
    opts.define(MOD.options ?? []);
    const clash = defineOption({ ...MOD.options![0]!, owner: "@dmasim/other" });
    expect(
      isKernelError(
        errOf(() => opts.define([clash])),
        "EEXIST",
      ),
    ).toBe(true);
  });

  it("unknownRequested names what no module defines", () => {
    const opts = new KernelOptions(new KernelVersion("latest"), {
      a: true,
      CONFIG_TEST_THING: true,
    });
    opts.define(MOD.options ?? []);
    expect(opts.unknownRequested()).toEqual(["a"]);
  });
});
