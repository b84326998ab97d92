// deeprnn is an ES module only: this file answers require('deeprnn') with how
// to load it instead (package.json "exports" sends "require" here).
'use strict';

throw new Error(
  "deeprnn is an ES module only and cannot be loaded with require(); use import { RNNLM } from 'deeprnn' "
  + "in an ES module (.mjs, or \"type\": \"module\" in package.json), or const deeprnn = await import('deeprnn') from CommonJS",
);
