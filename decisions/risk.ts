/**
 * The risk assessment matrix (docs/domain.md): five weighted factors rated low / medium / high,
 * scored 0-40, banded, and mapped to a migration strategy. Pure: workflows call it too.
 */

export type Rating = 'low' | 'medium' | 'high';
export type RiskFactor = 'fileSize' | 'gpu' | 'threading' | 'databases' | 'role';
export type RiskBand = 'low' | 'medium' | 'high' | 'critical';
export type Strategy = 'rapid' | 'staged' | 'framework' | 'critical';

export const riskWeights: Readonly<Record<RiskFactor, number>> = {
  fileSize: 0.3,
  gpu: 0.25,
  threading: 0.2,
  databases: 0.15,
  role: 0.1,
};

export const ratingPoints: Readonly<Record<Rating, number>> = { low: 0, medium: 20, high: 40 };

/** Source size above which the file-size factor is high (docs/domain.md) and, our choice, medium. */
export const fileSizeHighAboveKb = 200;
export const fileSizeMediumAboveKb = 50;

export const strategyByBand: Readonly<Record<RiskBand, Strategy>> = {
  low: 'rapid',
  medium: 'staged',
  high: 'framework',
  critical: 'critical',
};

export interface RiskInput {
  risk: Partial<Record<RiskFactor, Rating>>;
  source?: { sizeKb?: number };
  riskOverride?: { score: number; reason: string };
}

export interface FactorScore {
  factor: RiskFactor;
  rating: Rating;
  /** Where the rating came from: the inventory, or derived from the source size. */
  basis: 'inventory' | 'source-size';
  weight: number;
  points: number;
  contribution: number;
}

/** The verdict with its workings, so an operator can see why an agent got its strategy. */
export interface RiskAssessment {
  score: number;
  computedScore: number;
  band: RiskBand;
  strategy: Strategy;
  factors: FactorScore[];
  override?: { score: number; reason: string };
}

export function ratingFromSizeKb(sizeKb: number): Rating {
  if (sizeKb > fileSizeHighAboveKb) return 'high';
  if (sizeKb > fileSizeMediumAboveKb) return 'medium';
  return 'low';
}

export function bandForScore(score: number): RiskBand {
  if (score <= 15) return 'low';
  if (score <= 25) return 'medium';
  if (score <= 35) return 'high';
  return 'critical';
}

const factorOrder: RiskFactor[] = ['fileSize', 'gpu', 'threading', 'databases', 'role'];

export function assessRisk(agent: RiskInput): RiskAssessment {
  const factors = factorOrder.map((factor): FactorScore => {
    let rating = agent.risk[factor];
    let basis: FactorScore['basis'] = 'inventory';
    if (rating === undefined && factor === 'fileSize' && agent.source?.sizeKb !== undefined) {
      rating = ratingFromSizeKb(agent.source.sizeKb);
      basis = 'source-size';
    }
    if (rating === undefined) throw new Error(`risk factor "${factor}" has no rating and nothing to derive it from`);
    const weight = riskWeights[factor];
    const points = ratingPoints[rating];
    // Rounded so that 0.3 * 40 is 12, not 11.999999999999998.
    return { factor, rating, basis, weight, points, contribution: Math.round(weight * points * 1000) / 1000 };
  });
  const computedScore = Math.round(factors.reduce((sum, f) => sum + f.contribution, 0) * 1000) / 1000;
  const score = agent.riskOverride?.score ?? computedScore;
  const band = bandForScore(score);
  return {
    score,
    computedScore,
    band,
    strategy: strategyByBand[band],
    factors,
    ...(agent.riskOverride ? { override: { ...agent.riskOverride } } : {}),
  };
}
