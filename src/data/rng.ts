// Small seeded PRNG for data augmentation and shuffling: xoshiro128** seeded by splitmix32.
// Deterministic across platforms; the state can be saved and restored (for resumable training).

function splitmix32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
}

export class Rng {
  private s: Uint32Array;

  /** Any safe integer seed; both 32-bit halves of it matter. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new Error(`Rng seed must be a safe integer, got ${seed}`);
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    const next = splitmix32((seed >>> 0) ^ Math.imul(hi, 0x85ebca6b));
    this.s = Uint32Array.of(next(), next(), next(), next());
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  /** Uniform float in [0, 1) with 32 random bits. */
  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result / 2 ** 32;
  }

  /** Uniform float in [a, b). */
  uniform(a: number, b: number): number {
    return a + (b - a) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }

  /** The four 32-bit state words, for fromState. */
  state(): number[] {
    return Array.from(this.s);
  }

  static fromState(s: number[]): Rng {
    if (s.length !== 4 || s.some((v) => !Number.isInteger(v)) || s.every((v) => v === 0)) {
      throw new Error('Rng state must be four 32-bit integers, not all zero');
    }
    const rng = new Rng(0);
    rng.s = Uint32Array.from(s, (v) => v >>> 0);
    return rng;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
