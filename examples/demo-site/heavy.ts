/**
 * A heavy page for the benchmarks, shaped like a single-page app: `GET /heavy` (signed in only) loads
 * {@link HEAVY_BUNDLES} script bundles of about {@link HEAVY_BUNDLE_BYTES} bytes each (a few MB of script
 * to parse and run, cacheable like a real app's hashed bundles), then fetches {@link HEAVY_REQUESTS} small
 * JSON resources (not cacheable, signed in only) and shows `#ready` with the user's name in `#user`.
 */
import { escapeHtml } from './pages.js';

/** Script bundles the heavy page loads. */
export const HEAVY_BUNDLES = 8;
/** Approximate size of one bundle, in bytes (8 × 400 KB ≈ 3.2 MB of script). */
export const HEAVY_BUNDLE_BYTES = 400_000;
/** JSON requests the page makes once its scripts ran. */
export const HEAVY_REQUESTS = 40;

const bundles = new Map<number, string>();

/**
 * Bundle `index` (0-based): a script that builds a large array literal and a few hundred functions, so the
 * browser really parses and runs it. The same text every time (cacheable).
 *
 * @example
 * ```ts
 * send(res, 200, 'text/javascript', heavyBundle(0));
 * ```
 */
export function heavyBundle(index: number): string {
  let text = bundles.get(index);
  if (text !== undefined) return text;
  const parts: string[] = [`(function(){var m=window.__heavy||(window.__heavy={loaded:0,sum:0});var d=[`];
  let size = parts[0]!.length;
  for (let i = 0; size < HEAVY_BUNDLE_BYTES * 0.7; i++) {
    const item = `"b${index}-${i}-${'x'.repeat(24)}-${(i * 2654435761) % 1000003}",`;
    parts.push(item);
    size += item.length;
  }
  parts.push('];var s=0;for(var k=0;k<d.length;k++){s+=d[k].length;}m.sum+=s;');
  for (let f = 0; size < HEAVY_BUNDLE_BYTES; f++) {
    const fn = `function f${index}_${f}(a,b){var c=a*${f}+b;for(var i=0;i<3;i++){c=(c*31+i)%1000003;}return c;}m.sum+=f${index}_${f}(${f},${index})%7;`;
    parts.push(fn);
    size += fn.length;
  }
  parts.push('m.loaded++;})();');
  text = parts.join('');
  bundles.set(index, text);
  return text;
}

/**
 * The heavy page for a signed-in `user`.
 *
 * @example
 * ```ts
 * sendHtml(res, 200, heavyPage('alice'));
 * ```
 */
export function heavyPage(user: string): string {
  const scripts = Array.from(
    { length: HEAVY_BUNDLES },
    (_, i) => `<script src="/heavy/app-${i}.js"></script>`,
  ).join('');
  return (
    '<!doctype html><html><head><meta charset="utf-8"><title>Heavy</title></head><body>' +
    `<h1>Heavy</h1><p>Signed in as <span id="user">${escapeHtml(user)}</span></p><ul id="items"></ul>` +
    scripts +
    `<script>(async()=>{const r=await Promise.all(Array.from({length:${HEAVY_REQUESTS}},(_,i)=>fetch('/heavy/data-'+i+'.json').then(x=>x.json())));` +
    `const ul=document.getElementById('items');for(const x of r){const li=document.createElement('li');li.textContent=x.name;ul.appendChild(li);}` +
    `const p=document.createElement('p');p.id='ready';p.textContent=String(window.__heavy&&window.__heavy.loaded);document.body.appendChild(p);})();</script>` +
    '</body></html>'
  );
}

/**
 * Resource `index` of the heavy page's JSON requests.
 *
 * @example
 * ```ts
 * sendJson(res, 200, heavyData(3));
 * ```
 */
export function heavyData(index: number): { id: number; name: string } {
  return { id: index, name: `item ${index}` };
}
