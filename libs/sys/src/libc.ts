import koffi from 'koffi';

type Library = ReturnType<typeof koffi.load>;
type LibcFunction = ReturnType<Library['func']>;

let handle: Library | undefined;
let errnoLocation: LibcFunction | undefined;

/** A libc function by its C declaration, for calls Node has no binding for; libc opens on first use. */
export function libcFunction(declaration: string): LibcFunction {
  handle ??= koffi.load('libc.so.6');
  return handle.func(declaration);
}

/** The calling thread's errno, read right after a libc call failed. */
export function libcErrno(): number {
  errnoLocation ??= libcFunction('int *__errno_location()');
  return koffi.decode(errnoLocation(), 'int') as number;
}
