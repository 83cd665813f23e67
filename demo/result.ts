/** What the demo page publishes as window.demoResult: shown on the page, read by test/runtimes/run.ts. */
export interface DemoResult {
  state: 'loading' | 'working' | 'done' | 'error';
  score: number | null;
  decision: string;
  embedMs: number;
  facesA: number;
  facesB: number;
  cropsDrawn: number;
  error?: string;
}
