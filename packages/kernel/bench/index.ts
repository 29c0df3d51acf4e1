/**
 * Benchmarks of the hot paths: a bare choice point, and scheduling points in a two-thread mutex
 * ping-pong. Prints figures only; nothing is asserted.
 */
import {
  ChoiceSource,
  Kernel,
  mutexInit,
  mutexLock,
  mutexUnlock,
  randomPolicy,
} from "../src/index";

function rate(n: number, ms: number): string {
  return `${Math.round(n / (ms / 1000)).toLocaleString("en-US")}/s`;
}

function benchChoice(n: number): void {
  const c = new ChoiceSource(randomPolicy(1));
  const t0 = performance.now();
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += c.choose("sched", 2);
  }
  const ms = performance.now() - t0;
  console.log(`choice points:      ${rate(n, ms)} (${n} in ${ms.toFixed(0)} ms, checksum ${sum})`);
}

async function benchPingPong(rounds: number): Promise<void> {
  const kernel = new Kernel({ seed: 1 });
  const m = mutexInit(kernel, "m");
  const body = async () => {
    for (let i = 0; i < rounds; i++) {
      await mutexLock(m);
      await kernel.sched.schedulePoint();
      mutexUnlock(m);
    }
  };
  const t0 = performance.now();
  await kernel.run({ ping: body, pong: body });
  const ms = performance.now() - t0;
  const points = kernel.sched.switches;
  console.log(
    `scheduling points:  ${rate(points, ms)} (${points} in ${ms.toFixed(0)} ms; ` +
      `${kernel.choice.length} choices, ${kernel.sched.preemptions} preemptions, mutex ping-pong x${rounds})`,
  );
}

benchChoice(5_000_000);
await benchPingPong(100_000);
