/**
 * Fall detection from accelerometer windows (impact, then lying still in a
 * changed posture); see fall-detector.ts for the method and config.ts for the
 * source of every threshold.
 */
export { FallDetector, fallFinding } from './fall-detector.js';
export type { FallDetection, FallDetectorHooks, JudgedImpact } from './fall-detector.js';
export { DEFAULT_FALL_CONFIG, FallConfigError, resolveFallConfig } from './config.js';
export type { FallDetectorConfig, FallDetectorOptions, FallPositionParams } from './config.js';
export { describeImpact, fallCriteria, isFall, judgeImpact } from './impact.js';
export type { FallCriteria, ImpactFeatures, ImpactVerdict } from './impact.js';
