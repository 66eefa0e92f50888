// The package's browser entry (what bundlers take under the `browser` condition): the shared surface
// only, whose initBackend() asks navigator.gpu. Nothing here reaches a Node built-in or Dawn.

export * from './api/index.js';
