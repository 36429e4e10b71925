import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { initBackend } from '../backend.js';
import { flushSubnormalWeights } from './network.js';
import type { TagClassifier } from './types.js';

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';

/**
 * Writes the network as TF.js `model.json` + `weights.bin` in `dir`, with the metadata inside
 * model.json. tfjs' `file://` handler exists only in tfjs-node, so this goes through memory.
 */
export async function saveClassifier(model: TagClassifier, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  model.network.setUserDefinedMetadata({ tagwise: model.meta });
  await model.network.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const json = {
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs }],
        userDefinedMetadata: artifacts.userDefinedMetadata,
      };
      await writeFile(path.join(dir, WEIGHTS_FILE), new Uint8Array(weights));
      await writeFile(path.join(dir, MODEL_FILE), JSON.stringify(json));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: weights.byteLength,
        },
      };
    }),
  );
}

const nullableNumber = z.number().nullable();
const interval = z.object({ low: z.number(), high: z.number() });
const evaluationSchema = z.object({
  tag: z.string(),
  mode: z.enum(['KNOWN', 'PU']),
  positives: z.number(),
  negatives: z.number(),
  unlabelled: z.number(),
  heldOut: z.object({ customers: z.number(), positives: z.number(), negatives: z.number() }),
  targetPrecision: z.number(),
  threshold: nullableNumber,
  precision: nullableNumber,
  estimatedPrecision: nullableNumber,
  precisionInterval: interval.nullable(),
  recall: nullableNumber,
  f1: nullableNumber,
  rocAuc: nullableNumber,
  prAuc: nullableNumber,
  estimatedRocAuc: nullableNumber,
  labelFrequency: z
    .object({
      value: z.number(),
      interval,
      variance: z.number(),
      threshold: z.number(),
      labelledAbove: z.number(),
      unlabelledAbove: z.number(),
      own: nullableNumber,
      pooledOver: z.array(z.string()).nullable(),
      agrees: z.boolean().nullable(),
    })
    .nullable(),
  flagged: nullableNumber,
  positivesFlagged: nullableNumber,
  confident: z.boolean(),
  reason: z.string().nullable(),
  note: z.string().nullable(),
  method: z.string(),
  curve: z.array(z.object({ threshold: z.number(), precision: z.number(), recall: z.number() })),
});
const metaSchema = z.object({
  version: z.literal(2, {
    error:
      'trained by an earlier version of Tagwise whose metrics were not measured honestly; retrain it',
  }),
  tags: z.array(z.string()).min(1),
  columns: z.array(z.string()).min(1),
  columnMeans: z.array(z.number()),
  thresholds: z.array(nullableNumber),
  targetPrecisions: z.array(z.number()),
  seed: z.number(),
  backend: z.enum(['tensorflow', 'wasm', 'cpu']),
  epochs: z.number(),
  bestEpoch: z.number(),
  evaluations: z.array(evaluationSchema),
  exclusive: z.array(z.string().nullable()),
  params: z.object({
    hiddenUnits: z.array(z.number()),
    linearPath: z.boolean(),
    l2: z.number(),
    learningRate: z.number(),
    batchSize: z.number(),
    classWeights: z.array(z.object({ positive: z.number(), negative: z.number() })),
    minKnownNegatives: z.number(),
    split: z.object({ validationFraction: z.number(), testFraction: z.number() }),
    rows: z.object({ train: z.number(), validation: z.number(), test: z.number() }),
  }),
});
const modelFileSchema = z.object({
  modelTopology: z.record(z.string(), z.unknown()),
  weightsManifest: z.array(
    z.object({ paths: z.array(z.string()), weights: z.array(z.record(z.string(), z.unknown())) }),
  ),
  userDefinedMetadata: z.object({ tagwise: metaSchema }),
});

/** Reads a classifier written by `saveClassifier`. */
export async function loadClassifier(dir: string): Promise<TagClassifier> {
  await initBackend();
  const parsed = modelFileSchema.safeParse(
    JSON.parse(await readFile(path.join(dir, MODEL_FILE), 'utf8')),
  );
  if (!parsed.success) {
    throw new TypeError(
      `${path.join(dir, MODEL_FILE)} is not a saved tag classifier: ${z.prettifyError(parsed.error)}`,
    );
  }
  const { modelTopology, weightsManifest, userDefinedMetadata } = parsed.data;
  const meta = userDefinedMetadata.tagwise;
  if (
    meta.columnMeans.length !== meta.columns.length ||
    meta.thresholds.length !== meta.tags.length ||
    meta.exclusive.length !== meta.tags.length
  ) {
    throw new TypeError(`${path.join(dir, MODEL_FILE)}: metadata sizes disagree`);
  }
  const buffers: ArrayBuffer[] = [];
  for (const group of weightsManifest) {
    for (const file of group.paths) {
      // Paths come from our own manifest; refusing ones that leave the folder keeps it that way.
      if (path.basename(file) !== file)
        throw new TypeError(`weights path ${file} leaves the model folder`);
      const bytes = await readFile(path.join(dir, file));
      buffers.push(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      );
    }
  }
  const network = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology,
      weightSpecs: weightsManifest.flatMap(
        (g) => g.weights,
      ) as unknown as tf.io.WeightsManifestEntry[],
      weightData: tf.io.CompositeArrayBuffer.join(buffers),
    }),
  );
  flushSubnormalWeights(network);
  return { network, meta };
}
