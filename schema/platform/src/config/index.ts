/**
 * Configuration: an oslo.config-style INI parser and a generic option compiler shared by the site
 * service (`protector.conf`) and the gateway (`gateway.conf`). Each service declares its option
 * table with `defineConfigTable`; `compileConfig` turns file + environment into a typed, frozen config.
 */
export {
  type CompileConfigInput,
  type ConfigEnv,
  type ConfigProblem,
  compileConfig,
  describeExpected,
  displayValue,
  formatValue,
  parseOsloBool,
} from './compile.js';
export { type IniEntry, type IniSection, type IniSyntaxProblem, type ParsedIni, parseIni } from './ini.js';
export {
  type BoolOption,
  type ConfigOf,
  type ConfigRuleProblem,
  type ConfigSections,
  type ConfigTable,
  defineConfigTable,
  type EnumOption,
  envVarName,
  type IntOption,
  type ListOption,
  type OptionSpec,
  type OptionType,
  type OptionValue,
  option,
  type PartialConfigOf,
  type PartialConfigView,
  type PathOption,
  type ResolvedOption,
  type StringOption,
  type UrlOption,
  type ValidateContext,
} from './options.js';
export { REDACTED, redactConfig } from './redact.js';
export { renderConfigReference } from './reference.js';
export { closestMatch, editDistance } from './suggest.js';
