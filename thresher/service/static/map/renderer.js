// Drawing the map's points: WebGL (gl.POINTS from the binary columns as they came: positions float32 x, y;
// one palette index per point as a byte; a 256-entry palette texture), or, where WebGL is unavailable or
// runs in software, a canvas-2D loop that writes the same points into an ImageData. Both draw the same
// picture: a point is a disc of `size` CSS pixels (a square below 3 device pixels), dimmed when a selection
// leaves it out.

const VERTEX = `
attribute vec2 a_position;
attribute float a_code;
attribute float a_selected;
uniform vec2 u_scale;
uniform vec2 u_offset;
uniform float u_size;
uniform float u_dimming;
varying float v_code;
varying float v_alpha;
void main() {
  gl_Position = vec4(a_position * u_scale + u_offset, 0.0, 1.0);
  gl_PointSize = u_size;
  v_code = a_code;
  v_alpha = (u_dimming > 0.5 && a_selected < 0.5) ? 0.25 : 1.0;
}`;

const FRAGMENT = `
precision mediump float;
uniform sampler2D u_palette;
uniform float u_round;
varying float v_code;
varying float v_alpha;
void main() {
  if (u_round > 0.5) {
    vec2 d = gl_PointCoord - vec2(0.5);
    if (dot(d, d) > 0.25) discard;
  }
  vec4 colour = texture2D(u_palette, vec2((v_code + 0.5) / 256.0, 0.5));
  gl_FragColor = vec4(colour.rgb * v_alpha, v_alpha);
}`;

function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(shader) || "shader");
  return shader;
}

class WebGLRenderer {
  constructor(canvas, gl) {
    this.kind = "webgl";
    this.canvas = canvas;
    this.gl = gl;
    const program = gl.createProgram();
    gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(program) || "link");
    gl.useProgram(program);
    this.program = program;
    this.at = (name) => gl.getAttribLocation(program, name);
    this.u = (name) => gl.getUniformLocation(program, name);
    this.positions = gl.createBuffer();
    this.codes = gl.createBuffer();
    this.selected = gl.createBuffer();
    this.palette = gl.createTexture();
    this.n = 0;
    this.hasSelection = false;
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA); // the fragment colour is premultiplied
  }

  setPoints(xy, n) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.positions);
    gl.bufferData(gl.ARRAY_BUFFER, xy, gl.STATIC_DRAW);
    this.n = n;
  }

  setColours(codes, palette) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.codes);
    gl.bufferData(gl.ARRAY_BUFFER, codes, gl.STATIC_DRAW);
    gl.bindTexture(gl.TEXTURE_2D, this.palette);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, 256, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, palette);
    for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.NEAREST);
    for (const p of [gl.TEXTURE_WRAP_S, gl.TEXTURE_WRAP_T]) gl.texParameteri(gl.TEXTURE_2D, p, gl.CLAMP_TO_EDGE);
  }

  setSelection(mask) {
    const gl = this.gl;
    this.hasSelection = mask !== null;
    if (mask) {
      gl.bindBuffer(gl.ARRAY_BUFFER, this.selected);
      gl.bufferData(gl.ARRAY_BUFFER, mask, gl.DYNAMIC_DRAW);
    }
  }

  draw(view, size) {
    const gl = this.gl;
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    gl.clearColor(1, 1, 1, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    if (!this.n) return;
    const attribute = (name, buffer, count, type) => {
      const location = this.at(name);
      gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
      gl.enableVertexAttribArray(location);
      gl.vertexAttribPointer(location, count, type, false, 0, 0);
    };
    attribute("a_position", this.positions, 2, gl.FLOAT);
    attribute("a_code", this.codes, 1, gl.UNSIGNED_BYTE);
    const selected = this.at("a_selected");
    if (this.hasSelection) attribute("a_selected", this.selected, 1, gl.UNSIGNED_BYTE);
    else {
      gl.disableVertexAttribArray(selected);
      gl.vertexAttrib1f(selected, 0);
    }
    const clip = view.clip();
    gl.uniform2fv(this.u("u_scale"), clip.scale);
    gl.uniform2fv(this.u("u_offset"), clip.offset);
    const pixels = size * (window.devicePixelRatio || 1);
    gl.uniform1f(this.u("u_size"), pixels);
    gl.uniform1f(this.u("u_round"), pixels >= 3 ? 1 : 0);
    gl.uniform1f(this.u("u_dimming"), this.hasSelection ? 1 : 0);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.palette);
    gl.uniform1i(this.u("u_palette"), 0);
    gl.drawArrays(gl.POINTS, 0, this.n);
  }

  // Wait until the graphics card has drawn what was asked (a one-pixel read waits for the frame).
  finish() {
    this.gl.readPixels(0, 0, 1, 1, this.gl.RGBA, this.gl.UNSIGNED_BYTE, new Uint8Array(4));
  }

  release() {
    this.gl.getExtension("WEBGL_lose_context")?.loseContext();
  }
}

class CanvasRenderer {
  constructor(canvas) {
    this.kind = "canvas";
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.n = 0;
    this.mask = null;
  }

  setPoints(xy, n) {
    this.xy = xy;
    this.n = n;
  }

  setColours(codes, palette) {
    this.codes = codes;
    // ImageData is RGBA bytes; as 32-bit words on a little-endian machine that is 0xAABBGGRR
    const words = new Uint32Array(palette.buffer.slice(0));
    this.colours = words;
    this.dimmed = words.map((w) => {
      const mix = (shift) => Math.round(255 - 0.25 * (255 - ((w >>> shift) & 255)));
      return ((255 << 24) | (mix(16) << 16) | (mix(8) << 8) | mix(0)) >>> 0;
    });
  }

  setSelection(mask) {
    this.mask = mask;
  }

  draw(view, size) {
    const { width, height } = this.canvas;
    const image = this.context.createImageData(width, height);
    const pixels = new Uint32Array(image.data.buffer);
    pixels.fill(0xffffffff);
    const ratio = window.devicePixelRatio || 1;
    const side = Math.max(1, Math.round(size * ratio)), half = Math.floor(side / 2);
    // a disc, as WebGL draws one from 3 pixels up: each row's first and last column, relative to px
    const round = side >= 3;
    const from = new Int32Array(side), to = new Int32Array(side).fill(side);
    if (round) {
      for (let row = 0; row < side; row++) {
        const dy = row + 0.5 - side / 2;
        const w = Math.sqrt(Math.max(0, (side * side) / 4 - dy * dy));
        from[row] = Math.round(side / 2 - w);
        to[row] = Math.round(side / 2 + w);
      }
    }
    const clip = view.clip();
    const [sx, sy] = clip.scale, [ox, oy] = clip.offset;
    const { xy, codes, mask } = this;
    for (let pass = mask ? 0 : 1; pass < 2; pass++) {
      // with a selection: the others first, dimmed, then the selected on top
      for (let i = 0; i < this.n; i++) {
        if (mask && (mask[i] === 1) !== (pass === 1)) continue;
        const px = Math.round(((xy[2 * i] * sx + ox + 1) / 2) * width) - half;
        const py = Math.round(((1 - (xy[2 * i + 1] * sy + oy)) / 2) * height) - half;
        if (px + side <= 0 || py + side <= 0 || px >= width || py >= height) continue;
        const colour = pass === 0 ? this.dimmed[codes[i]] : this.colours[codes[i]];
        for (let y = Math.max(0, py); y < Math.min(height, py + side); y++) {
          const row = y - py;
          pixels.fill(colour, y * width + Math.max(0, px + from[row]), y * width + Math.min(width, px + to[row]));
        }
      }
    }
    this.context.putImageData(image, 0, 0);
  }

  finish() {}

  release() {}
}

// A WebGL renderer runs in software where there is no graphics card (SwiftShader, llvmpipe): there the
// canvas loop below draws 10^6 points in about 0.15 s where software WebGL takes about 0.9 s on the same
// CPU (benchmarks/map_scale.py), so "auto" uses WebGL only on a graphics card.
const SOFTWARE = /swiftshader|llvmpipe|softpipe|software/i;

function software(gl) {
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  return SOFTWARE.test(String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER)));
}

// A canvas without a context in place of one that has a WebGL context (a canvas keeps its first kind).
function fresh(canvas, gl) {
  gl.getExtension("WEBGL_lose_context")?.loseContext();
  const replacement = canvas.cloneNode(false);
  canvas.replaceWith(replacement);
  return replacement;
}

// A renderer for `canvas`: `prefer` is "auto" (WebGL on a graphics card, else the canvas), "webgl" (WebGL
// even in software) or "canvas". Its `canvas` is the element it draws on (a replacement, after a refusal).
export function createRenderer(canvas, prefer = "auto") {
  if (prefer !== "canvas") {
    const gl = canvas.getContext("webgl", { antialias: false, premultipliedAlpha: true, preserveDrawingBuffer: false });
    if (gl && prefer === "auto" && software(gl)) return new CanvasRenderer(fresh(canvas, gl));
    if (gl) {
      try {
        return new WebGLRenderer(canvas, gl);
      } catch {
        return new CanvasRenderer(fresh(canvas, gl)); // a context that cannot compile the shaders
      }
    }
  }
  return new CanvasRenderer(canvas);
}
