import { Router, type Request } from 'express';
import { notFound, notImplemented, unavailable } from '@berth/errors';

/** dockerd's answer on a node that is in no swarm, for every swarm-only endpoint. */
export const NOT_SWARM_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
const NOT_IN_SWARM = 'This node is not part of a swarm';

/**
 * The endpoints of the Engine API that Berth has no feature behind answer as a swarm-less,
 * plugin-less dockerd does: swarm objects 503, no plugins. Never the 404 "page not found"
 * that would make clients think the route itself is wrong.
 */
export function unsupportedRoutes(): Router {
  const r = Router();
  const swarmOnly = (_req: Request) => {
    throw unavailable(NOT_SWARM_MANAGER);
  };
  r.post('/swarm/leave', () => {
    throw unavailable(NOT_IN_SWARM);
  });
  r.all(['/swarm', '/swarm/*rest'], swarmOnly);
  for (const kind of ['services', 'nodes', 'tasks', 'secrets', 'configs']) r.all([`/${kind}`, `/${kind}/*rest`], swarmOnly);

  r.put('/volumes/:name', () => {
    throw unavailable('volume update only valid for cluster volumes, but swarm is not enabled');
  });

  r.get('/plugins', (_req, res) => {
    res.json([]);
  });
  const noPlugins = () => {
    throw notImplemented('plugins are not supported by this engine');
  };
  r.get('/plugins/privileges', noPlugins);
  r.post(['/plugins/pull', '/plugins/create'], noPlugins);
  // No plugin is ever installed, so every named one is unknown.
  r.all(['/plugins/:name/json', '/plugins/:name', '/plugins/:name/*rest'], (req) => {
    throw notFound(`plugin "${String(req.params.name)}" not found`);
  });

  // Registry-side features that have no backing service yet: a clear 501, not a bare 404.
  r.get('/images/search', () => {
    throw notImplemented('image search is not supported by this engine');
  });
  r.get('/distribution/*name', () => {
    throw notImplemented('distribution inspect is not supported by this engine');
  });
  r.get('/images/*name/attestations', () => {
    throw notImplemented('image attestations are not supported by this engine');
  });
  return r;
}
