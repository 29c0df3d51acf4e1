// The carve-out exporter of docs/writing-an-exporter.md (packages/drivers/examples), as a user's
// own module beside the operations that drive it.
export {
  carveoutAlloc,
  carveoutExport,
  type Carveout,
} from "../../drivers/examples/writing-an-exporter";
