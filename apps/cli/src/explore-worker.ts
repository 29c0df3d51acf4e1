/**
 * A worker thread of `dmasim explore --workers N`: loads the scenario, explores its part of the
 * tree, posts progress and then its result (as an explore result file's JSON).
 */
import { parentPort, workerData } from "node:worker_threads";
import { defaultRegistry, explore, exploreResultJson, loadScenario } from "@dmasim/scenario";
import type { WorkerInput, WorkerMessage } from "./commands/explore";

const input = workerData as WorkerInput;
const port = parentPort;
const post = (m: WorkerMessage) => port?.postMessage(m);
const flag = new Int32Array(input.stop);

async function work(): Promise<void> {
  try {
    const sc = loadScenario(input.text, input.file, defaultRegistry());
    const result = await explore(sc, {
      ...input.options,
      stop: () => Atomics.load(flag, 0) === 1,
      onProgress: (progress) => post({ type: "progress", progress }),
    });
    post({ type: "result", result: exploreResultJson(result) });
  } catch (e) {
    post({ type: "error", message: e instanceof Error ? e.message : String(e) });
  }
}

void work();
