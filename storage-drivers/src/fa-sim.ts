/** `@protector/storage-drivers/fa-sim`: the FlashArray REST simulator, one HTTPS port per array. */
export {
  type FlashArraySimulatorOptions,
  type RunningSimulator,
  startFlashArraySimulator,
} from './fa-sim/server.js';
