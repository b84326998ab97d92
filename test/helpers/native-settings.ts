// Tests that switch the addon's settings (threads, team size, kernel table,
// bf16 path) put them back after the file, so that later files see the defaults.
import { afterAll } from 'vitest';
import { native, type NativeInfo } from '../../src/native.js';

/** The settings at the file's start (info()), restored after its last test. */
export function restoreNativeSettings(): NativeInfo {
  const nat = native();
  const start = nat.info();
  afterAll(() => {
    nat.setThreads(start.threads);
    nat.setTeamSize(start.teamSize);
    nat.setSimd(start.simd);
    nat.setBf16('');
  });
  return start;
}
