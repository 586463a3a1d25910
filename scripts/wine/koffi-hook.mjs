// Loaded with `node.exe --import` under Wine: registers a resolve hook that sends the bare
// specifier `koffi` to the harness's copy of koffi, which sits beside koffi's win32-x64
// native package (the shared node_modules holds only the Linux build). Nothing else changes.
import { register } from 'node:module';

const target = process.env.VIGIL_WINE_KOFFI;
if (target) {
  register(
    `data:text/javascript,${encodeURIComponent(
      `import { pathToFileURL } from 'node:url';
       const url = pathToFileURL(${JSON.stringify(target)}).href;
       export async function resolve(specifier, context, next) {
         if (specifier === 'koffi') return { url, shortCircuit: true, format: 'module' };
         return next(specifier, context);
       }`,
    )}`,
  );
}
