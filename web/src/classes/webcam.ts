// The webcam: one stream for capturing examples and live prediction; every way it can fail becomes a
// message the user can act on.
import { UserError } from '../store.js';

function cameraError(e: unknown): UserError {
  const name = (e as Error)?.name ?? '';
  if (name === 'NotAllowedError' || name === 'SecurityError')
    return new UserError(
      'Camera permission was denied. Allow the camera for this page (the icon in the address bar), or upload images instead.',
    );
  if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError')
    return new UserError('No camera was found. Connect one and press “Start camera” again, or upload images instead.');
  if (name === 'NotReadableError' || name === 'AbortError')
    return new UserError('The camera could not be started: another application may be using it. Close it and try again.');
  return new UserError(`The camera could not be started (${(e as Error)?.message ?? String(e)}).`);
}

export class Webcam {
  private stream?: MediaStream;

  constructor(readonly video: HTMLVideoElement) {
    video.muted = true;
    video.playsInline = true;
  }

  get live(): boolean {
    return !!this.stream && this.video.readyState >= 2 && this.video.videoWidth > 0;
  }

  async start(): Promise<void> {
    if (this.stream) return;
    if (!navigator.mediaDevices?.getUserMedia)
      throw new UserError(
        'This browser gives no camera access here: open the page from https:// or http://localhost, or upload images instead.',
      );
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 320 }, height: { ideal: 240 }, facingMode: 'user' },
        audio: false,
      });
    } catch (e) {
      throw cameraError(e);
    }
    this.stream = stream;
    stream.getVideoTracks()[0]?.addEventListener('ended', () => this.stop());
    this.video.srcObject = stream;
    this.video.hidden = false;
    try {
      await this.video.play();
      if (this.video.readyState < 2) await new Promise((r) => this.video.addEventListener('loadeddata', r, { once: true }));
    } catch (e) {
      this.stop();
      throw cameraError(e);
    }
  }

  stop(): void {
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = undefined;
    this.video.srcObject = null;
    this.video.hidden = true;
  }
}
