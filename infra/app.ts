import { createMedallionApp } from './medallion-app.ts';

// The `cdk` CLI runs this file (see cdk.json); tests call createMedallionApp directly.
createMedallionApp().app.synth();
