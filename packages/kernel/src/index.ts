/**
 * @dmasim/kernel — layer 0 of dmasim: the simulated kernel's core. The `Kernel` context, errno and
 * `KernelError`, printk/dmesg, WARN/BUG, findings, kref/refcount, threads and the deterministic
 * scheduler, the choice source, mutexes, spinlocks, rwsems, wait queues, completions, lockdep,
 * processes, files and address spaces.
 *
 * @packageDocumentation
 */
export { ERRNO, KernelError, errname, fail, isKernelError, type ErrnoName } from "./errno";
export {
  DEFAULT_KERNEL_VERSION,
  KERNEL_PROFILES,
  KernelVersion,
  type KernelProfile,
} from "./version";
export {
  KernelOptions,
  defineOption,
  type KernelOptionDef,
  type KernelOptionKind,
} from "./options";
export {
  ChoiceSource,
  decodeReplayToken,
  encodeReplayToken,
  firstPolicy,
  randomPolicy,
  replayPolicy,
  type ChoicePoint,
  type ChoicePolicy,
  type ChoiceRecord,
} from "./choice";
export { digestHash, digestValue, type DigestTag } from "./digest";
export { HashSum, Hasher, hashText, type HashPair } from "./hash";
export { mulberry32 } from "./prng";
export { Clock, MAX_SCHEDULE_TIMEOUT, NSEC_PER_MSEC } from "./clock";
export {
  Dmesg,
  KERN_ALERT,
  KERN_CRIT,
  KERN_DEBUG,
  KERN_EMERG,
  KERN_ERR,
  KERN_INFO,
  KERN_NOTICE,
  KERN_WARNING,
  type DmesgRecord,
  type LogLevel,
} from "./printk";
export {
  FINDING_KINDS,
  isFindingKind,
  type Finding,
  type FindingInput,
  type FindingKind,
} from "./findings";
export { BUG_ON, KernelBug, WARN_ON, WARN_ON_ONCE, might_sleep } from "./bug";
export {
  RunAborted,
  Scheduler,
  Task,
  type BlockOptions,
  type TaskState,
  type WakeReason,
} from "./sched";
export {
  CORE_MODULE,
  Kernel,
  defineSubsys,
  type KernelConfig,
  type KernelModule,
  type SubsysKey,
  type TraceEvent,
} from "./kernel";
export {
  LockClass,
  Lockdep,
  LockdepMap,
  type AcquireOptions,
  type HeldLock,
  type LockChainLink,
} from "./lockdep";
export {
  Mutex,
  mutexDestroy,
  mutexInit,
  mutexIsLocked,
  mutexLock,
  mutexLockInterruptible,
  mutexTrylock,
  mutexUnlock,
} from "./mutex";
export {
  Spinlock,
  preemptDisable,
  preemptEnable,
  rcuReadLock,
  rcuReadUnlock,
  spinIsLocked,
  spinLock,
  spinLockInit,
  spinLockIrqsave,
  spinTrylock,
  spinUnlock,
  spinUnlockIrqrestore,
} from "./spinlock";
export {
  RwSemaphore,
  downRead,
  downReadTrylock,
  downWrite,
  downWriteKillable,
  initRwsem,
  upRead,
  upWrite,
} from "./rwsem";
export {
  Completion,
  WaitQueueHead,
  complete,
  completeAll,
  completionDone,
  initCompletion,
  initWaitqueueHead,
  msleep,
  reinitCompletion,
  scheduleTimeout,
  tryWaitForCompletion,
  waitEvent,
  waitForCompletion,
  waitForCompletionTimeout,
  wakeUp,
  wakeUpAll,
  type WaitEventOptions,
} from "./wait";
export {
  Kref,
  REFCOUNT_MAX,
  REFCOUNT_SATURATED,
  Refcount,
  krefGet,
  krefGetUnlessZero,
  krefInit,
  krefPut,
  krefRead,
  refcountDec,
  refcountDecAndTest,
  refcountInc,
  refcountIncNotZero,
  refcountRead,
  refcountSet,
} from "./kref";
export {
  MAP_PRIVATE,
  MAP_SHARED,
  Mm,
  PAGE_SHIFT,
  PAGE_SIZE,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_EXEC,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_MAYWRITE,
  VM_MIXEDMAP,
  VM_PFNMAP,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  Vma,
  handleMmFault,
  remapPfnRange,
  vmaSetFile,
  vmfInsertPfn,
  zapVmaPtes,
  type PageProt,
  type Pte,
  type VmFault,
  type VmOperations,
} from "./mm";
export {
  DEFAULT_POLLMASK,
  File,
  INR_OPEN_CUR,
  O_ACCMODE,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  POLLOUT,
  POLLPRI,
  POLLRDNORM,
  POLLWRNORM,
  Process,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
  Vfs,
  anonInodeGetfile,
  type DeviceNode,
  type FileOperations,
} from "./vfs";
export { fput, getFile } from "./file_table";
