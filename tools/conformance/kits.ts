import { builderKit } from './builder.kit';
import { imagesKit } from './images.kit';
import type { Kit } from './kit';
import { netproxyKit } from './netproxy.kit';
import { shimKit } from './shim.kit';
import { snapshotterKit } from './snapshotter.kit';
import { supervisorKit } from './supervisor.kit';

/** Every contract that has a kit, by the service name `npm run conformance` takes. */
export const KITS: Record<string, () => Kit> = {
  snapshotter: snapshotterKit,
  images: imagesKit,
  netproxy: netproxyKit,
  supervisor: supervisorKit,
  shim: shimKit,
  builder: builderKit,
};
