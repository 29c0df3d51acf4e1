/** What `dmasim list` can list (kept apart from the listings, which load the layers). */
export const LISTABLE = [
  "kernels",
  "platforms",
  "heaps",
  "drivers",
  "options",
  "examples",
  "ops",
] as const;
