// Learning-rate schedules: the rate of every optimizer step from the step
// count and the completed epochs, so a resumed run continues the same curve.
import { InputError } from '../errors.js';
import { describe } from '../validate.js';

export const SCHEDULES = ['constant', 'step', 'exp', 'cosine'] as const;
export type ScheduleKind = (typeof SCHEDULES)[number];

export interface ScheduleSettings {
  kind: ScheduleKind;
  /** The base learning rate. */
  lr: number;
  /** Linear warm-up over this many optimizer steps (0: none). */
  warmup: number;
  /** step and exp: the factor of each decay. */
  decay: number;
  /** step: epochs between decays; exp: the epoch after which every epoch ends with a decay (at least 1; a 0 read from an older checkpoint acts as 1). */
  decayAfter: number;
  /** Floor of the decayed rate (step, exp) and end of the cosine. */
  minLr: number;
}

/** The settings of a schedule that not every kind reads (lr and warmup apply to all). */
export type ScheduleSetting = 'decay' | 'decayAfter' | 'minLr';

/** What each kind reads besides lr and warmup (learningRate below): an option for another setting does not apply to it. */
export const SCHEDULE_READS: Record<ScheduleKind, readonly ScheduleSetting[]> = {
  constant: [],
  step: ['decay', 'decayAfter', 'minLr'],
  exp: ['decay', 'decayAfter', 'minLr'],
  cosine: ['minLr'],
};

/** The kinds that read a setting, in SCHEDULES' order. */
export const schedulesWith = (setting: ScheduleSetting): ScheduleKind[] => SCHEDULES.filter((k) => SCHEDULE_READS[k].includes(setting));

/**
 * The learning rate for step `step` (0-based) taken after `epochs` completed
 * epochs, in a run of `totalSteps` steps:
 * - constant: lr
 * - step: lr * decay^floor(epochs / decayAfter) (PyTorch's StepLR with step_size = decayAfter)
 * - exp: lr * decay^(epochs - max(decayAfter, 1) + 1) once epochs >= max(decayAfter, 1): a decay at the
 *   end of every epoch from epoch decayAfter on (char-rnn's learning_rate_decay_after)
 * - cosine: from lr down to minLr over the steps after the warm-up
 * times (step + 1) / warmup during the warm-up; step and exp never go below minLr.
 */
export function learningRate(s: ScheduleSettings, step: number, epochs: number, totalSteps: number): number {
  let lr: number;
  switch (s.kind) {
    case 'constant':
      lr = s.lr;
      break;
    case 'step':
      lr = Math.max(s.minLr, s.lr * s.decay ** Math.floor(epochs / Math.max(1, s.decayAfter)));
      break;
    case 'exp': {
      const first = Math.max(1, s.decayAfter);
      lr = Math.max(s.minLr, s.lr * s.decay ** (epochs >= first ? epochs - first + 1 : 0));
      break;
    }
    case 'cosine': {
      const span = Math.max(1, totalSteps - s.warmup);
      const progress = Math.min(1, Math.max(0, (step - s.warmup) / span));
      lr = s.minLr + ((s.lr - s.minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
      break;
    }
    default:
      // (before, an unknown kind gave undefined as the rate)
      throw new InputError(`schedule must be one of ${SCHEDULES.join('|')}, got ${describe((s as { kind: unknown } | null)?.kind)}`);
  }
  return step < s.warmup ? (lr * (step + 1)) / s.warmup : lr;
}
