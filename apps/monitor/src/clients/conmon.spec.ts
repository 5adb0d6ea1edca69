import { describe, expect, it } from 'vitest';
import { runtimeMessage } from './conmon';

describe('runtimeMessage', () => {
  it('takes the msg of a logrus line and unescapes it', () => {
    const line = 'time="2026-12-01T14:37:36Z" level=error msg="runc create failed: unable to start container process: exec: \\"nope\\": executable file not found in $PATH"';
    expect(runtimeMessage(line)).toBe('runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH');
  });
  it('keeps any other text as it is', () => {
    expect(runtimeMessage(' conmon failed \n')).toBe('conmon failed');
  });
});
