/**
 * The agent's configuration: layered config.d fragments, merged, checked
 * against `schema.json`, completed with defaults.
 *
 * Error codes: ERR_CONFIG_INVALID (every problem, naming the file and the
 * field path).
 */
export {
  loadConfig, nodeConfigFs, DEFAULT_CONFIG_ROOTS, MAX_CONFIG_FILE_BYTES, MAX_CONFIG_FILES_PER_DIR,
  type ConfigFs, type LoadConfigOptions, type LoadedConfig,
} from './load';
export { mergeFragments, originOf, type Merged, type JsonObject } from './merge';
export type { AgentConfig, KeyFilesConfig, CheckSettingsConfig, Weekday } from './types';
