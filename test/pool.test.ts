import { describe, expect, it } from 'vitest';
import { sizeClass } from '../src/gpu/pool.js';

describe('buffer pool size classes', () => {
  it('rounds up to at most 25% slack and never below the request', () => {
    for (let bytes = 1; bytes < 1 << 20; bytes = Math.ceil(bytes * 1.37) + 3) {
      const size = sizeClass(bytes);
      expect(size).toBeGreaterThanOrEqual(bytes);
      if (bytes > 256) expect(size / bytes).toBeLessThanOrEqual(1.25);
      expect(size % 4).toBe(0);
    }
  });
});
