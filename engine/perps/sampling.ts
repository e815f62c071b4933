// "Sampled once a second of engine time" (P3 EWMA, P4 premium): which engine-time second a sample belongs to.

export const MS_PER_SECOND = 1000;

/** The whole second of a non-negative engine time in ms (integer arithmetic, no float rounding). */
export function engineSecond(timeMs: number): number {
  return (timeMs - (timeMs % MS_PER_SECOND)) / MS_PER_SECOND;
}

/** True when a sample at nowMs may be taken: the first one, or one in a later second than the last (lastMs). */
export function isNextSecond(sampleCount: number, lastMs: number, nowMs: number): boolean {
  return sampleCount === 0 || engineSecond(nowMs) > engineSecond(lastMs);
}

/** P5: positions are realized every this many ms of engine time. */
export const REALIZATION_INTERVAL_MS = 10_000;

/**
 * P5, engine.ts D2(c): does a batch whose clock went from fromMs to toMs (non-negative, fromMs ≤ toMs) cross a 10 s
 * mark? A batch that lands exactly on a mark crosses it; one that starts on it does not (that mark was the last one's).
 */
export function crossesRealizationMark(fromMs: number, toMs: number): boolean {
  return (toMs - (toMs % REALIZATION_INTERVAL_MS)) > (fromMs - (fromMs % REALIZATION_INTERVAL_MS));
}
