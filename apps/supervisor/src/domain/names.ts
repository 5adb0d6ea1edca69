import { randomInt } from 'node:crypto';

// Docker-style generated names: adjective_surname. Our own short lists.
const LEFT = ['brave', 'calm', 'eager', 'fancy', 'gentle', 'happy', 'jolly', 'keen', 'lucid', 'merry', 'nifty', 'proud', 'quiet', 'sharp', 'tender', 'vivid', 'witty', 'zen'];
const RIGHT = ['anchor', 'beacon', 'buoy', 'cargo', 'compass', 'harbor', 'hull', 'keel', 'mast', 'mooring', 'pier', 'quay', 'rudder', 'sail', 'tide', 'wharf'];

export function generateName(taken: (name: string) => boolean): string {
  for (let i = 0; ; i++) {
    const base = `${LEFT[randomInt(LEFT.length)]}_${RIGHT[randomInt(RIGHT.length)]}`;
    const name = i < 10 ? base : `${base}${randomInt(1000)}`;
    if (!taken(name)) return name;
  }
}
