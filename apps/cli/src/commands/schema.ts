import { defaultRegistry, scenarioJsonSchema } from "@dmasim/scenario";
import { UsageError, type Io } from "../io";
import { reportSchema } from "../report-schema";
import { didYouMean } from "../suggest";

const SCHEMAS = ["scenario", "report"];

/** `dmasim schema [scenario|report]`: print a JSON Schema. */
export function schema(io: Io, what: string): void {
  switch (what) {
    case "scenario":
      io.out(`${JSON.stringify(scenarioJsonSchema(defaultRegistry()), null, 2)}\n`);
      return;
    case "report":
      io.out(`${JSON.stringify(reportSchema(), null, 2)}\n`);
      return;
    default:
      throw new UsageError(
        `schema ${what}: expected scenario or report${didYouMean(what, SCHEMAS)}`,
      );
  }
}
