// Drawing for the page: the network's input tensor back as a picture (un-normalised), and a
// Grad-CAM map as a coloured overlay (turbo colour map), transparent where cold, more opaque where hotter.

import { type GradCam, IMAGENET_MEAN, IMAGENET_STD, upsampleBilinear } from './engine.js';

/** Draws a normalised CHW image of size imgSize x imgSize onto the canvas, scaled to fill it. */
export function drawNetworkInput(canvas: HTMLCanvasElement, input: Float32Array, imgSize: number): void {
  const plane = imgSize * imgSize;
  const pixels = new ImageData(imgSize, imgSize);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) pixels.data[i * 4 + c] = Math.round((input[c * plane + i] * IMAGENET_STD[c] + IMAGENET_MEAN[c]) * 255);
    pixels.data[i * 4 + 3] = 255;
  }
  const source = new OffscreenCanvas(imgSize, imgSize);
  source.getContext('2d')!.putImageData(pixels, 0, 0);
  const context = canvas.getContext('2d')!;
  context.imageSmoothingQuality = 'high';
  context.drawImage(source, 0, 0, canvas.width, canvas.height);
}

/** Draws the map, resampled bilinearly to the canvas's size, as a heat overlay (nothing for an empty map). */
export function drawHeatOverlay(canvas: HTMLCanvasElement, cam: GradCam): void {
  const context = canvas.getContext('2d')!;
  context.clearRect(0, 0, canvas.width, canvas.height);
  if (cam.peak <= 0) return;
  const values = upsampleBilinear(cam, canvas.width, canvas.height);
  const pixels = new ImageData(canvas.width, canvas.height);
  values.forEach((v, i) => {
    const [r, g, b] = turbo(v);
    pixels.data.set([r, g, b, Math.round(255 * 0.6 * v)], i * 4);
  });
  context.putImageData(pixels, 0, 0);
}

/** Google's Turbo colour map (polynomial approximation by its author), t in [0, 1]. */
export function turbo(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t));
  const poly = (c: number[]) => c.reduce((acc, k, i) => acc + k * x ** i, 0);
  const channel = (c: number[]) => Math.round(255 * Math.min(1, Math.max(0, poly(c))));
  return [
    channel([0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943]),
    channel([0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604]),
    channel([0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973]),
  ];
}

/** CSS gradient of the colour map, for the legend. */
export function turboGradient(): string {
  const stops = Array.from({ length: 11 }, (_, i) => `rgb(${turbo(i / 10).join(' ')})`);
  return `linear-gradient(to right, ${stops.join(', ')})`;
}
