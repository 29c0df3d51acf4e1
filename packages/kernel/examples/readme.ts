import { Kernel, msleep, mutexInit, mutexLock, mutexUnlock, type Finding } from "@dmasim/kernel";

/** Two threads take two mutexes in opposite orders; lockdep catches the inversion. */
export async function main(): Promise<{ findings: Finding[]; log: string[] }> {
  const kernel = new Kernel({ version: "6.12", seed: 1 });
  const buf = mutexInit(kernel, "&buf->lock", "buf_lock");
  const dev = mutexInit(kernel, "&dev->lock", "dev_lock");
  const log: string[] = [];

  await kernel.run({
    exporter: async () => {
      await mutexLock(buf); // buf -> dev
      await mutexLock(dev);
      log.push("exporter: mapped");
      mutexUnlock(dev);
      mutexUnlock(buf);
    },
    importer: async () => {
      await msleep(kernel, 1); // runs after the exporter here, so no real deadlock...
      await mutexLock(dev); // ...but dev -> buf inverts the order lockdep has seen
      await mutexLock(buf);
      log.push("importer: attached");
      mutexUnlock(buf);
      mutexUnlock(dev);
    },
  });

  for (const f of kernel.findings) {
    log.push(`${f.kind}/${f.code} in ${f.thread}: ${f.summary}`);
  }
  return { findings: kernel.findings, log };
}
