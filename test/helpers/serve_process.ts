// `node dist/cli.js serve ...` as a child process for tests: resolves once it prints the URL to
// open (with --port 0 the system picks a free port), rejects with its output if it exits first.

import { type ChildProcess, spawn } from 'node:child_process';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;

export interface ServeProcess {
  url: URL;
  output: () => string;
  stop(): void;
}

export function startServe(args: string[], timeoutMs = 60_000): Promise<ServeProcess> {
  const child: ChildProcess = spawn('node', [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`serve printed no URL within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /open (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ url: new URL(match[1]), output: () => output, stop: () => child.kill() });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with status ${code}:\n${output}`));
    });
  });
}
