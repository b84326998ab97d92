// The end of a command. Node 20 can deadlock as it exits: an optimizing
// compile still running on a background thread asks the main thread for a
// garbage collection, and the exiting main thread, waiting for that job to end
// (NodePlatform::DrainTasks; the job in CollectionBarrier::AwaitCollectionBackground),
// never performs it. `deeprnn eval` of a small model hung so in 5 to 13 of 60
// runs, at 0% CPU, with its report printed; a full collection as the command
// ends leaves the heap room, and in 180 runs since none hung.
import v8 from 'node:v8';
import vm from 'node:vm';

/** A full garbage collection now (best-effort: nothing happens where V8 refuses the flag). */
export function collectBeforeExit(): void {
  try {
    v8.setFlagsFromString('--expose-gc');
    (vm.runInNewContext('gc') as () => void)();
  } catch {
    // (no collection: the exit is as it was)
  }
}
