/**
 * @dmasim/scenario — layer 7 of dmasim: scenario files (YAML), validation with positions, the
 * runner, expectations, text and JSON reports, and Chrome traces.
 *
 * @packageDocumentation
 */
export { ScenarioError, formatIssue, isScenarioError, type ScenarioIssue } from "./errors";
export { bytesSchema, hexSummary, toBytes, type BytesSpec } from "./bytes";
export {
  ObjectTable,
  type DmaBufMapObject,
  type DmaBufVmapObject,
  type DmaMappingObject,
  type FdObject,
  type MappingObject,
  type NamedObject,
  type ObjectTypes,
  type PagesObject,
  type SgMappingObject,
  type TimelineObject,
} from "./objects";
export {
  defineOp,
  type OpBinding,
  type OpCall,
  type OpContext,
  type OpDef,
  type OpResult,
  type OpSpec,
  type RefSpec,
} from "./op";
export {
  type ArgShape,
  type ArgValue,
  type ObjectReference,
  type RefMeta,
  type RefSchema,
  type ResolvedArgs,
  type WrittenArgs,
} from "./ref";
export {
  defineSection,
  type SectionBinding,
  type SectionDef,
  type SectionName,
  type SectionSpec,
  type SectionUse,
} from "./section";
export { scenarioLayer, type ScenarioLayer } from "./layer";
export {
  createRegistry,
  defaultRegistry,
  type Registry,
  type RegistryPart,
  type RunHooks,
} from "./registry";
export {
  loadScenario,
  type FindingExpectation,
  type Scenario,
  type ScenarioExplore,
  type ScenarioStep,
  type StepExpect,
} from "./load";
export {
  runScenario,
  type ExpectationResult,
  type RunOptions,
  type RunReport,
  type StepRecord,
} from "./run";
export { PLAIN, formatReport, reportJson, type Palette } from "./report";
export { toChromeTrace, type ChromeTraceEvent } from "./trace";
export { scenarioJsonSchema } from "./schema";
export { KERNEL_OPS } from "./ops/kernel";
export {
  describeArgs,
  describeShape,
  opsMarkdownTable,
  withOpsTable,
  type ArgDescription,
} from "./describe";
export {
  CHOICE_KINDS,
  DEFAULT_EXPLORE_BOUNDS,
  resolveBounds,
  type ExploreBounds,
  type ResolvedBounds,
} from "./explore-bounds";
export {
  EXPLORE_CUTS,
  explore,
  type ExploreCut,
  type ExploreFailure,
  type ExploreOptions,
  type ExplorePart,
  type ExploreProgress,
  type ExploreReduction,
  type ExploreResult,
  type ExploreStrategy,
} from "./explore";
export {
  EXPLORE_FORMAT,
  exploreResultJson,
  formatExploreSummary,
  mergeExploreResults,
  parseExploreResult,
} from "./explore-merge";
