import type { Deployment } from '../config/schema/deployment';
import type { Logger } from '../lib/logger';
import { connectClient, temporalTarget } from '../lib/temporal';
import { indexedValueTypes, searchAttributeRegistrations } from '../workflows/lib/visibility';

/**
 * Registers phasegate's search attributes on the namespace if they are missing, so a fresh
 * production Temporal (docker-compose.yml) filters by them in the Web UI without a manual
 * step. The local dev server has them from its start flags, and a namespace whose operator
 * manages them elsewhere (Temporal Cloud) refuses: that is logged, not fatal.
 */
export async function ensureSearchAttributes(deployment: Deployment, logger: Logger): Promise<void> {
  const target = temporalTarget(deployment);
  const { connection } = await connectClient(deployment);
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: target.namespace });
    const missing = Object.keys(searchAttributeRegistrations).filter((name) => !(name in (customAttributes ?? {})));
    if (missing.length === 0) return;
    await connection.operatorService.addSearchAttributes({ namespace: target.namespace, searchAttributes: Object.fromEntries(missing.map((name) => [name, indexedValueTypes[searchAttributeRegistrations[name]!]])) });
    logger.info({ registered: missing, namespace: target.namespace }, 'search attributes registered');
  } catch (err) {
    logger.warn({ err: (err as Error).message, namespace: target.namespace }, 'could not check or register the search attributes; register them with `temporal operator search-attribute create --type Keyword --name ...` (PhasegateFrozen: --type Text)');
  } finally {
    await connection.close();
  }
}
