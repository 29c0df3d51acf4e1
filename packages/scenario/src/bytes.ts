/**
 * Byte values in scenario files: `"de ad be ef"` / `"0xdeadbeef"` (hex), `{ fill: 0xaa, len: 64 }`,
 * or a list of numbers.
 *
 * @module
 */
import { z } from "zod";

const HEX = /^(0x)?([0-9a-fA-F]{2}[\s_:]?)*$/;

/** The schema of a byte value. **Kernel:** none. */
export const bytesSchema = z
  .union([
    z
      .string()
      .regex(HEX, { message: 'hex bytes such as "de ad be ef" or "0xdeadbeef"' })
      .describe("hex bytes"),
    z.object({ fill: z.number().int().min(0).max(255), len: z.number().int().min(1) }).strict(),
    z.array(z.number().int().min(0).max(255)).min(1),
  ])
  .meta({ title: "bytes" });

/** A byte value as written in a scenario. */
export type BytesSpec = z.infer<typeof bytesSchema>;

/**
 * Turn a {@link BytesSpec} into bytes.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function toBytes(spec: BytesSpec): Uint8Array {
  if (typeof spec === "string") {
    const hex = spec.replace(/^0x/, "").replace(/[\s_:]/g, "");
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) {
      out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    }
    return out;
  }
  if (Array.isArray(spec)) {
    return Uint8Array.from(spec);
  }
  return new Uint8Array(spec.len).fill(spec.fill);
}

/**
 * Bytes as a short hex string for reports: `aa aa aa … (64 bytes)`.
 *
 * **Kernel:** none (like `print_hex_dump`). **Locking:** none.
 */
export function hexSummary(bytes: Uint8Array, max = 16): string {
  const hex = (b: number): string => (b < 16 ? "0" : "") + b.toString(16);
  const n = Math.min(max, bytes.length);
  let shown = "";
  for (let i = 0; i < n; i++) {
    shown += (i > 0 ? " " : "") + hex(bytes[i] as number);
  }
  if (bytes.length <= max) {
    return shown;
  }
  const b0 = bytes[0] ?? 0;
  for (let i = 1; i < bytes.length; i++) {
    if (bytes[i] !== b0) {
      return `${shown} … (${bytes.length} bytes)`;
    }
  }
  return `${hex(b0)} x ${bytes.length}`;
}
