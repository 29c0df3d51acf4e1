/**
 * State digests: a short hash of everything that decides what a run does next, so that the explorer
 * can tell when two schedules have led to the same machine state and explore its future once.
 *
 * **Kernel:** no counterpart (a model-checking aid, like a state vector in a model checker).
 *
 * A digest is built from a canonical, structural serialisation ({@link digestValue}) and hashed with
 * dmasim's one 64-bit hash ({@link Hasher}, two independent 32-bit lanes). History counters (sequence numbers, ids handed
 * out in order) may make equal states look different; that only costs pruning, never soundness.
 * What a serialisation cannot see (closures, `WeakMap`s) is a layer's to contribute explicitly with
 * `kernel.addStateDigest()`.
 *
 * @module
 */
import { Hasher } from "./hash";

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

const TWO32 = 2 ** 32;

/** Token tags of {@link digestHash}'s encoding (each value starts with one). */
const T_NULL = 1;
const T_UNDEF = 2;
const T_TRUE = 3;
const T_FALSE = 4;
const T_INT = 5;
const T_NUM = 6;
const T_STR = 7;
const T_BIG = 8;
const T_SYM = 9;
const T_FN = 10;
const T_OPAQUE = 11;
const T_TAG = 12;
const T_REF = 13;
const T_BYTES = 14;
const T_ARR = 15;
const T_MAP = 16;
const T_SET = 17;
const T_OBJ = 18;

/**
 * The walk of {@link digestHash}: the same structural walk as {@link digestValue}, streamed into
 * a {@link Hasher} as a prefix-free token encoding (a tag, then
 * lengths before contents), so that no text is built.
 */
class HashWalk extends Hasher {
  private readonly seen = new Map<object, number>();

  number(v: number): void {
    if (Number.isSafeInteger(v)) {
      this.word(T_INT);
      this.word(v >>> 0);
      this.word(Math.floor(v / TWO32));
    } else {
      this.word(T_NUM);
      this.str(String(v));
    }
  }

  value(v: unknown): void {
    switch (typeof v) {
      case "object":
        if (v === null) {
          this.word(T_NULL);
        } else {
          this.object(v);
        }
        return;
      case "string":
        this.word(T_STR);
        this.str(v);
        return;
      case "number":
        this.number(v);
        return;
      case "boolean":
        this.word(v ? T_TRUE : T_FALSE);
        return;
      case "undefined":
        this.word(T_UNDEF);
        return;
      case "bigint":
        this.word(T_BIG);
        this.str(String(v));
        return;
      case "symbol":
        this.word(T_SYM);
        this.str(String(v));
        return;
      case "function":
        this.word(T_FN);
        return;
    }
  }

  private object(v: object): void {
    if (isTagged(v)) {
      this.word(T_TAG);
      this.str(v.digestTag());
      return;
    }
    if (v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet) {
      this.word(T_OPAQUE);
      return;
    }
    const ref = this.seen.get(v);
    if (ref !== undefined) {
      this.word(T_REF);
      this.word(ref);
      return;
    }
    this.seen.set(v, this.seen.size);
    if (ArrayBuffer.isView(v)) {
      const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      this.word(T_BYTES);
      this.word(bytes.length);
      for (let i = 0; i < bytes.length; i++) {
        this.word(bytes[i] as number);
      }
      return;
    }
    if (Array.isArray(v)) {
      this.word(T_ARR);
      this.word(v.length);
      for (const x of v) {
        this.value(x);
      }
      return;
    }
    if (v instanceof Map) {
      this.word(T_MAP);
      this.word(v.size);
      for (const [k, x] of v) {
        this.value(k);
        this.value(x);
      }
      return;
    }
    if (v instanceof Set) {
      this.word(T_SET);
      this.word(v.size);
      for (const x of v) {
        this.value(x);
      }
      return;
    }
    this.word(T_OBJ);
    this.str((v.constructor as { name?: string } | undefined)?.name ?? "");
    const keys = Object.keys(v);
    this.word(keys.length);
    for (const k of keys) {
      this.str(k);
      this.value((v as Record<string, unknown>)[k]);
    }
  }
}

/**
 * A 64-bit hash (16 hex digits) of a value's structure: what {@link digestValue} sees (the same
 * walk: fields in order, cycles and shared objects as back-references, tags, opaque markers),
 * streamed into the hash without building the text. Structures with equal texts hash equally;
 * different ones differ but for a 64-bit collision. Used by `Kernel.stateDigest()` at every choice
 * point of an exploration, where building the text cost most of the digest.
 *
 * **Kernel:** none. **Locking:** none (pure).
 */
export function digestHash(value: unknown): string {
  const w = new HashWalk();
  w.value(value);
  return w.hex();
}
