// Reference outputs of face-api's FaceLandmark68Net and FaceExpressionNet on fixed
// 112x112 RGB PNG crops, computed by the package itself (nothing reimplemented).
//
// Setup (outside the repo; nothing is fetched at run time, weights are local files):
//   mkdir -p /tmp/faceapi-ref && cd /tmp/faceapi-ref && npm init -y
//   npm install @vladmandic/face-api@1.7.15 @tensorflow/tfjs@4.22.0 \
//               @tensorflow/tfjs-backend-wasm@4.22.0 pngjs@7.0.0
// Run (from the repo root):
//   NODE_PATH=/tmp/faceapi-ref/node_modules node tools/faceapi/reference.mjs \
//     [--models /work/shared/assets/models] [--fixtures tests/fixtures/faceapi] [--backend cpu|wasm]
//     [--out tests/fixtures/faceapi/expected.json]
//
// The crop pixels go in as an int32 tf.Tensor3D [112,112,3]; toBatchTensor(112) then
// does no padding and no resize, so the nets see exactly the PNG pixels.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';

const REF = process.env.FACEAPI_REF || '/tmp/faceapi-ref';
const require = createRequire(path.join(REF, 'node_modules', 'noop.js'));
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const { PNG } = require('pngjs');
const { tf } = faceapi;

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const modelsDir = arg('models', '/work/shared/assets/models');
const fixturesDir = arg('fixtures', 'tests/fixtures/faceapi');
const backend = arg('backend', 'cpu');
const outPath = arg('out', path.join(fixturesDir, 'expected.json'));

const CROPS = [
  'hao_happy.png',
  'su_surprise.png',
  'astronaut.png',
  'single_face_000005.png',
  'single_face_000060.png',
  'wolfgang_000336.png',
];

function loadPngRgb(file) {
  const png = PNG.sync.read(fs.readFileSync(file));
  if (png.width !== 112 || png.height !== 112) throw new Error(`${file}: ${png.width}x${png.height}, want 112x112`);
  const rgb = new Int32Array(112 * 112 * 3);
  for (let i = 0; i < 112 * 112; i++) {
    rgb[3 * i] = png.data[4 * i];
    rgb[3 * i + 1] = png.data[4 * i + 1];
    rgb[3 * i + 2] = png.data[4 * i + 2];
  }
  return tf.tensor3d(rgb, [112, 112, 3], 'int32');
}

const arr = (t) => Array.from(t.dataSync());

async function main() {
  // (wasm: the Node build of tfjs-backend-wasm reads its .wasm from its own dist/ folder.)
  await tf.setBackend(backend);
  await tf.ready();

  const lmNet = faceapi.nets.faceLandmark68Net;
  const exNet = faceapi.nets.faceExpressionNet;
  await lmNet.loadFromDisk(modelsDir);
  await exNet.loadFromDisk(modelsDir);

  const results = [];
  for (const name of CROPS) {
    const img = loadPngRgb(path.join(fixturesDir, name));
    const input = await faceapi.toNetInput(img);

    // Landmarks: raw fc output (136 = x0,y0,x1,y1,..., relative to the 112x112 crop).
    const rawT = lmNet.runNet(input);
    const landmarksRaw = arr(rawT);
    // What face-api's own postProcess/detectLandmarks gives for this square 112 input
    // (should equal raw up to float rounding: scale 1, no padding).
    const post = await lmNet.detectLandmarks(img);
    const landmarksPx = post.positions.flatMap((p) => [p.x, p.y]);
    const lmFeat = arr(lmNet.faceFeatureExtractor.forwardInput(input));

    // Expressions: logits (fc output) and softmax probabilities.
    const logitsT = exNet.runNet(input);
    const logits = arr(logitsT);
    const probsT = exNet.forwardInput(input);
    const probs = arr(probsT);
    const exFeat = arr(exNet.faceFeatureExtractor.forwardInput(input));
    const expressions = {};
    faceapi.FACE_EXPRESSION_LABELS.forEach((l, i) => { expressions[l] = probs[i]; });
    const top = faceapi.FACE_EXPRESSION_LABELS[probs.indexOf(Math.max(...probs))];

    results.push({
      file: name,
      landmarks_raw: landmarksRaw,
      landmarks_px: landmarksPx,
      expression_labels: [...faceapi.FACE_EXPRESSION_LABELS],
      expression_probs: probs,
      expression_logits: logits,
      expressions,
      top_expression: top,
      landmark_features_256: lmFeat,
      expression_features_256: exFeat,
    });
    tf.dispose([img, rawT, logitsT, probsT]);
    console.log(`${name}: top=${top} ${faceapi.FACE_EXPRESSION_LABELS.map((l, i) => `${l}=${probs[i].toFixed(4)}`).join(' ')}`);
  }

  const doc = {
    generator: 'tools/faceapi/reference.mjs',
    package: `@vladmandic/face-api@${faceapi.version}`,
    tfjs: tf.version_core,
    backend: tf.getBackend(),
    models_dir: modelsDir,
    input: '112x112 RGB PNG pixels as int32 tensor [112,112,3]; no padding/resize inside face-api',
    notes: {
      landmarks_raw: 'FaceLandmark68Net fc output, 136 values interleaved x0,y0,...,x67,y67, fraction of the 112x112 crop (pixel = value*112)',
      landmarks_px: 'face-api detectLandmarks(...).positions for the same crop, in crop pixels (= raw*112 here)',
      expression_probs: 'softmax of expression_logits, order = expression_labels',
      features_256: 'FaceFeatureExtractor output (after avgPool), NHWC [1,1,1,256] flattened, for debugging a port',
    },
    crops: results,
  };
  fs.writeFileSync(outPath, `${JSON.stringify(doc, null, 1)}\n`);
  console.log(`wrote ${outPath}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
