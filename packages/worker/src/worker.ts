/**
 * The default worker script of a worker kit: it serves the kit and registers, when asked, the
 * backends named in `createWorkerKit({ backends })`. Importing this module starts serving.
 *
 * @module @cosinekit/worker/worker
 */
import { serveKit } from './serve.js';

void serveKit();
