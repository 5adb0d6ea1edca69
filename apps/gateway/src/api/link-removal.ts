import { conflict, isNotFound, notFound, notImplemented } from '@berth/errors';
import type { Backends } from '../domain/backends';

/**
 * `DELETE /containers/{name}?link=1` (`docker rm --link`) removes the link `/parent/alias`,
 * never a container. A plain container name is its own default link, which dockerd refuses
 * to remove; so does this, with dockerd's words, before the container could be touched.
 */
export async function removeLink(b: Backends, nameIn: string): Promise<void> {
  const name = nameIn.startsWith('/') ? nameIn : `/${nameIn}`;
  const cut = name.lastIndexOf('/');
  const parent = name.slice(0, cut);
  if (parent === '') throw conflict('Conflict, cannot remove the default link name of the container');
  try {
    await b.getContainer(parent.slice(1));
  } catch (err) {
    if (isNotFound(err)) throw notFound(`Cannot get parent ${parent} for link name ${name}`);
    throw err;
  }
  throw notImplemented(`removing the link ${name} is not supported by this engine yet`);
}
