import { describe, expect, it } from 'vitest';
import { BerthError, HTTP_STATUS, isNotFound, kindOf, notFound } from './index';

describe('errors', () => {
  it('keeps the kind and maps it to Docker HTTP statuses', () => {
    const err = notFound('No such container: web');
    expect(err).toBeInstanceOf(BerthError);
    expect(isNotFound(err)).toBe(true);
    expect(HTTP_STATUS[kindOf(err)]).toBe(404);
  });

  it('treats foreign errors as internal', () => {
    expect(kindOf(new Error('boom'))).toBe('internal');
    expect(HTTP_STATUS[kindOf('x')]).toBe(500);
  });
});
