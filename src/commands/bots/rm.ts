import {removeCommand} from '../../role-holder-commands.js'

export default removeCommand('bot', 'Deletes a bot and its join tokens.')
