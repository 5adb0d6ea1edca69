import { invalidArgument } from '@berth/errors';
import type { LifecycleDeps } from './lifecycle-context';

export function renameContainer(d: LifecycleDeps, ref: string, newName: string): void {
  const rec = d.containers.get(ref);
  if (!newName) throw invalidArgument('Neither old nor new names may be empty');
  const name = d.containers.checkName(newName, rec.id);
  if (name === rec.name) throw invalidArgument(`Renaming a container with the same name as its current name`);
  rec.name = name;
  d.containers.save(rec);
  d.event('rename', rec);
}
