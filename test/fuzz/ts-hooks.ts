/**
 * Lets Node run the TypeScript sources directly (`--experimental-transform-types --import` this
 * file): the sources import each other as `./x.js`, as the compiler wants, so a `.js` import that
 * does not exist beside its importer resolves to the `.ts` file of the same name. Only relative
 * imports of our own files are touched; packages resolve as usual.
 */
import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';

registerHooks({
  resolve(specifier, context, nextResolve) {
    const parent = context.parentURL;
    if (specifier.startsWith('.') && specifier.endsWith('.js') && parent?.startsWith('file:')) {
      const asJs = new URL(specifier, parent);
      if (!existsSync(fileURLToPath(asJs))) {
        const asTs = new URL(specifier.replace(/\.js$/, '.ts'), parent);
        if (existsSync(fileURLToPath(asTs))) return nextResolve(asTs.href, context);
      }
    }
    return nextResolve(specifier, context);
  },
});
