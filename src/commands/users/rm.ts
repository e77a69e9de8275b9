import {removeCommand} from '../../role-holder-commands.js'

export default removeCommand('user', 'Deletes a user; their outstanding invite stops working.')
