/** Entry point of the `canopy` operator CLI. */
import { runProgram } from '../cli/entry';
import { main } from '../cli/main';

runProgram('canopy', main);
